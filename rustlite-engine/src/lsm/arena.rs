//! The memtable's arena: bump allocation in large chunks that live as long as the memtable.
//!
//! The skiplist ([`skiplist`](crate::lsm::skiplist)) places each node, its key and its value
//! contiguously in an [`Arena`]. An allocation is never freed, moved or reused on its own: the
//! chunks are released together when the arena drops, which is what makes node pointers held by
//! lock-free readers valid for the arena's whole life, and what makes dropping a flushed memtable
//! a handful of `free` calls instead of two per entry.
//!
//! ```text
//!  chunk 0 (chunk_size)              chunk 1 (chunk_size)        dedicated chunk
//! +------+------+------+---------+  +------+------+---------+   +---------------------+
//! | node | node | node | (waste) |  | node | node | free -> |   | one oversized entry |
//! +------+------+------+---------+  +------+------+---------+   +---------------------+
//!                                          `cur`  `remaining`
//! ```
//! An allocation larger than a quarter chunk gets a dedicated chunk of its exact size, so a
//! multi-megabyte value neither wastes the rest of a chunk nor forces huge chunks on every
//! memtable. Every allocation is 8-byte aligned (the skiplist's links are pointers).
//!
//! The arena is not synchronised: the skiplist keeps it inside its writer mutex.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of every allocation (enough for the skiplist's `AtomicPtr` links and lengths).
pub(crate) const ALIGN: usize = 8;

/// Smallest and largest chunk the arena allocates for ordinary entries.
const MIN_CHUNK: usize = 4 << 10;
const MAX_CHUNK: usize = 1 << 20;

/// One block of arena memory, freed on drop.
struct Chunk {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `ptr` was returned by `alloc::alloc(self.layout)` in `Chunk::new` and is freed
        // only here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl Chunk {
    fn new(size: usize) -> Chunk {
        let layout = match Layout::from_size_align(size.max(ALIGN), ALIGN) {
            Ok(l) => l,
            // Only a size near `isize::MAX` fails, which no allocation could satisfy either.
            Err(_) => alloc::handle_alloc_error(Layout::new::<u64>()),
        };
        // SAFETY: `layout` has a non-zero size (at least `ALIGN`).
        let raw = unsafe { alloc::alloc(layout) };
        match NonNull::new(raw) {
            Some(ptr) => Chunk { ptr, layout },
            None => alloc::handle_alloc_error(layout),
        }
    }
}

/// A bump allocator over chunks that are freed only when the arena drops.
pub(crate) struct Arena {
    chunks: Vec<Chunk>,
    chunk_size: usize,
    /// Next free byte of the current chunk (dangling while there is none).
    cur: NonNull<u8>,
    /// Free bytes left at `cur`.
    remaining: usize,
    /// Bytes handed out or lost to padding and abandoned chunk tails: every chunk's size except
    /// the current chunk's free tail.
    used: usize,
}

// SAFETY: the arena exclusively owns its chunks (plain bytes, no thread affinity); the raw
// pointers are only an address into them. Moving the arena to another thread moves that
// ownership.
unsafe impl Send for Arena {}

impl Arena {
    /// An arena that allocates chunks sized for a memtable of `budget` bytes (a sixteenth of
    /// it, between 4 KiB and 1 MiB). Nothing is allocated until the first [`alloc`](Self::alloc).
    pub(crate) fn for_budget(budget: usize) -> Arena {
        Arena {
            chunks: Vec::new(),
            chunk_size: (budget / 16).clamp(MIN_CHUNK, MAX_CHUNK),
            cur: NonNull::dangling(),
            remaining: 0,
            used: 0,
        }
    }

    /// Bytes of memory the arena holds, less the free tail of its current chunk.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// `size` bytes, 8-byte aligned, uninitialised, valid until the arena drops. The memory is
    /// never handed out again.
    pub(crate) fn alloc(&mut self, size: usize) -> NonNull<u8> {
        let size = size.max(1).next_multiple_of(ALIGN);
        if size > self.chunk_size / 4 {
            let chunk = Chunk::new(size);
            let ptr = chunk.ptr;
            self.used += size;
            self.chunks.push(chunk);
            return ptr;
        }
        if size > self.remaining {
            // The current chunk's free tail is abandoned: from now on it counts as used.
            self.used += self.remaining;
            let chunk = Chunk::new(self.chunk_size);
            self.cur = chunk.ptr;
            self.remaining = self.chunk_size;
            self.chunks.push(chunk);
        }
        let ptr = self.cur;
        // SAFETY: `size <= remaining`, so `cur + size` stays within (or one past the end of) the
        // current chunk's allocation.
        self.cur = unsafe { NonNull::new_unchecked(self.cur.as_ptr().add(size)) };
        self.remaining -= size;
        self.used += size;
        ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_counted() {
        let mut a = Arena::for_budget(0);
        assert_eq!(a.used(), 0);
        let p = a.alloc(3);
        let q = a.alloc(8);
        assert_eq!(p.as_ptr() as usize % ALIGN, 0);
        assert_eq!(q.as_ptr() as usize, p.as_ptr() as usize + 8);
        assert_eq!(a.used(), 16);
        // A quarter chunk or more: its own chunk, exactly sized.
        let big = a.alloc(MIN_CHUNK);
        assert_eq!(big.as_ptr() as usize % ALIGN, 0);
        assert_eq!(a.used(), 16 + MIN_CHUNK);
        // Filling the current chunk abandons its tail.
        for _ in 0..8 {
            a.alloc(MIN_CHUNK / 4);
        }
        assert!(a.used() >= 16 + MIN_CHUNK + 2 * MIN_CHUNK);
        assert_eq!(a.chunks.len(), 4);
    }
}
