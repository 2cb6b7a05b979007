mod smtp;
mod turnstile;
