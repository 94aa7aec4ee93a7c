use routilux::routine;

#[routine]
unsafe fn read(ptr: &*const u64) -> u64 {
    unsafe { **ptr }
}

fn main() {}
