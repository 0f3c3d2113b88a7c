//! Exchanges with the cluster, at the bottom of the crate: a [`Script`] (a fixed body of shell
//! functions, run-time values only as quoted arguments) and the typed reply it answers with
//! ([`Tagged`], read by [`tags`]). The plan declares every exchange; the transports in
//! `remote` carry them; neither imports the other, both import this.

mod reply;
mod script;

pub use reply::{last_tagged, tagged, tags, Tagged, TAG};
pub use script::{Script, LOGIN_SHELL, PLAIN_SHELL};
