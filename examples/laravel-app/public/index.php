<?php

// The example's web entry point: a plain PHP page listing the posts and their pictures, so
// `php -S localhost:8000 -t public` shows what synco transfers (no framework needed).

$db = new PDO('sqlite:' . __DIR__ . '/../database/database.sqlite');
echo "<!doctype html><title>Synco example</title><h1>Posts</h1>\n";
foreach ($db->query('SELECT p.title, p.body, p.image, u.name FROM posts p JOIN users u ON u.id = p.user_id') as $post) {
    printf("<article><h2>%s</h2><p>%s (by %s)</p><img src=\"/storage/%s\" alt=\"\"></article>\n",
        htmlspecialchars($post['title']), htmlspecialchars($post['body']), htmlspecialchars($post['name']),
        htmlspecialchars($post['image']));
}
