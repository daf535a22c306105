//! The component in wasmtime: loading and linking with its allowlist, the sandbox of every
//! call (fuel, epoch deadline, memory cap, size caps), and the typed errors.

pub mod error;
pub mod runtime;
pub mod size;
