//! slidecast-local (to be written).
