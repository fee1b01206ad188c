//! kernel umbrella
