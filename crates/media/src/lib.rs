//! slidecast-media (to be written).
