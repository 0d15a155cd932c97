//! Public test doubles: a scripted [`MockProvider`] and [`MockComposer`].

pub struct MockProvider;
impl MockProvider {
    pub fn new() -> Self {
        MockProvider
    }
}
pub struct MockComposer;
impl MockComposer {
    pub fn new() -> Self {
        MockComposer
    }
}
