//! slidecast-store (to be written).
