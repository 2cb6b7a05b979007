mod codes;
mod helpers;
mod journeys;
mod smtp;
mod turnstile;
