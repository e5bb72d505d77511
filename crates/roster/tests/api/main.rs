//! Integration tests: the real server on a random port against a fresh SQLite file,
//! driven over HTTP; the CLI tests run the real `roster` binary.
//! One test binary, so the whole suite links once.

mod auth;
mod bad_input;
mod browser_selftest;
mod campaign_scale;
mod campaigns;
mod cli;
mod cluster;
mod contacts;
mod copy;
mod crash_safety;
mod engagement;
mod events;
mod fakes;
mod identity;
mod inbound;
mod isolation;
mod merge;
mod messaging;
mod messaging_cluster;
mod ops;
mod outbox;
mod protection;
mod provider_faults;
mod studio;
mod support;
mod writers;
