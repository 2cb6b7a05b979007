//! doorcode: passwordless email-code sign-in, as a library that the `doorcode`
//! binary and the integration tests both start through [`startup::Application`].

pub mod api;
mod app;
pub mod captcha;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod forms;
pub mod i18n;
pub mod login;
pub mod mail;
pub mod metrics;
pub mod oidc;
mod pages;
pub mod passkeys;
pub mod redirect;
mod routes;
pub mod rules;
pub mod session;
pub mod startup;
pub mod state;
pub mod storage;
mod web;
