//! The platform's data: merchants (apps, sessions, notify settings) and orders (state machine T1–T15).

pub mod alteration;
pub mod consume;
pub mod delivery;
pub mod merchant;
pub mod order;

pub use alteration::Alteration;
pub use delivery::{AttemptPlan, Enqueued, Schedule};
pub use merchant::{Merchant, NotifyCharset, Phase};
pub use order::{CodeRecord, CodeStatus, ConsumeRecord, OpTime, Order, OrderState, TransitionError};
