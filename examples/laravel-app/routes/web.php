<?php

// The example's only page lists the posts; it exists so the tree looks like a real application.

return ['/' => 'posts.index'];
