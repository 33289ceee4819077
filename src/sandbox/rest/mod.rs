//! The REST resources on records: [`records`] (`sobjects/…` CRUD), [`composite`] (composite,
//! batch, tree and sObject collections), [`describe`] (global and object describes) and
//! [`limits`] (the API allocation and `limits`).

pub mod composite;
pub mod describe;
pub mod limits;
pub mod records;
