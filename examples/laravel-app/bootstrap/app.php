<?php

// Laravel 11's bootstrap/app.php, with the example's stand-in for Illuminate\Foundation\Application.

return ExampleApplication::configure(basePath: dirname(__DIR__))
    ->withRouting(
        web: __DIR__.'/../routes/web.php',
        health: '/up',
    )
    ->withMiddleware(function ($middleware) {
        //
    })
    ->withExceptions(function ($exceptions) {
        //
    })->create();
