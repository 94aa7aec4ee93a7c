// The hidden API cannot be turned into a use-after-free: a value read from a slot lives only
// as long as the shared borrow of the access token, and clearing the slot needs it mutably.
use routilux::__private::{Access, BoxError, Exec, Slot};

struct Sneaky {
    slot: Slot<String>,
}

impl Exec for Sneaky {
    fn run_step(&self, _: usize, access: &mut Access<'_>) -> Result<(), BoxError> {
        let kept: &String = self.slot.get(access);
        self.slot.clear(access);
        println!("{kept}");
        Ok(())
    }

    fn clear(&self, _: usize, access: &mut Access<'_>) {
        self.slot.clear(access);
    }
}

fn main() {}
