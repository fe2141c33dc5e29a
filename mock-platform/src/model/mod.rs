//! The platform's data: merchants (apps, sessions, notify settings) and orders (state machine T1–T15).

pub mod consume;
pub mod merchant;
pub mod order;

pub use merchant::{Merchant, NotifyCharset, Phase};
pub use order::{CodeRecord, CodeStatus, ConsumeRecord, OpTime, Order, OrderState, TransitionError};
