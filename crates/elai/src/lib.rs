//! slidecast-elai (to be written).
