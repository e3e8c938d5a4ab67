//! The memtable's ordered map: an arena skiplist with one writer and lock-free readers.
//!
//! The skiplist owns the memtable's versions, ordered as [`ikey::compare`](crate::lsm::ikey::compare) orders encoded
//! internal keys (user key ascending, newest seqno first, kind ignored). It is LevelDB's design
//! (`db/skiplist.h`, also RocksDB's `InlineSkipList` and Pebble's `arenaskl`): every node lives
//! in an [`Arena`] with its key and value right behind it, so an insert is one bump allocation
//! and a walk touches one cache line per node; the arena is freed in a few chunks when the list
//! drops.
//!
//! ```text
//!             8 bytes × height          16 bytes               key_len           value_len
//!       +-----------+-----+--------+---------+-----------+--------------------+-------------+
//!       | next[h-1] | ... | next[0]| key_len | value_len | user key|!seq|kind| value bytes |
//!       +-----------+-----+--------+---------+-----------+--------------------+-------------+
//!                                  ^ node pointer
//! ```
//! The links sit *before* the node pointer (level `i` at `node - 8(i+1)`), so a node records no
//! height: a reader only follows level `i` of a node it reached on level `i` or above. The key
//! is stored encoded ([`ikey`](crate::lsm::ikey) layout: `!seq` is `u64::MAX - seq`, big-endian), so a cursor
//! hands out key and value as slices of the arena.
//!
//! # Concurrency
//! * **One writer.** [`SkipList::insert`] takes `&self` but holds the writer mutex for the whole
//!   insert; the mutex also owns the arena and the height generator, so a second writer would
//!   wait rather than race. The engine inserts only from the write-role leader (and recovery),
//!   so the lock is uncontended.
//! * **Publication.** A node is fully written (header, key, value, its own links) before it is
//!   linked, bottom level first, each link a `Release` store; readers load links with `Acquire`,
//!   so a reader that reaches a node sees all of it. Nodes are never unlinked, changed or freed
//!   while the list lives, so readers need no lock, no epoch and no reference counts.
//! * **A seek returns the node it compared.** The search for the first node `>= probe` ends on
//!   level 0 between `prev` (`< probe`) and `next` (`>= probe`, compared). The writer may link a
//!   new node between them at any moment after that comparison, so a seek returns `next` itself,
//!   never a fresh load of `prev`'s link: that load can return a node nobody compared, such as a
//!   newer version of the key (above the reader's snapshot) or a smaller user key (a point read
//!   then misses its version). A seek is thus exact for the list as it was when `next` was
//!   loaded; a node linked later holds a seqno no published snapshot includes yet.
//!
//! # One version per (key, seqno)
//! A batch has one seqno, so a batch that writes a key twice inserts the same (key, seqno)
//! twice, and the last write must win. Overwriting a node in place would race with readers, so
//! the later write becomes a new node *in front of* the equal ones (the insert position is
//! before the first node `>=` the key). Readers treat a run of equal nodes as one entry, its
//! first (newest) node: a seek lands on it, [`Entry::next`] skips the rest of the run and
//! [`Entry::prev`] steps back to the start of the previous run. The skipping is only done once
//! the list has seen such a duplicate (`has_dups`, set before the duplicate is linked, so a
//! reader that can reach the duplicate sees the flag), and [`SkipList::len`] counts a run once.
//!
//! # Batches
//! A commit's ops go in through [`SkipList::insert_batch`]: one hold of the writer lock, and the
//! insert positions of up to [`BATCH_SEARCHES`] ops searched together, one step of each in
//! turn, each step prefetching the node its search compares next. A walk down the list is a
//! chain of cache misses that cannot overlap within one search, but the searches of a row and
//! its index entries are independent, so their misses can. Positions are searched in the list
//! as it was before the group; the nodes are then linked one by one exactly as `insert` links
//! them, and after each link every later position whose predecessor on some level was the new
//! node's predecessor there is corrected (the new node becomes its predecessor if it is
//! smaller, else its level-0 successor). An equal (key, seqno) is not smaller, so a later write
//! of it still goes in front: a batch reads as its ops inserted one by one, in order. Readers
//! see nothing new: nodes are published one at a time, fully written, with Release stores.

use crate::lsm::arena::Arena;
use crate::lsm::ikey::{Kind, SeqNo, TRAILER_LEN};
use parking_lot::Mutex;
use std::cmp::Ordering as CmpOrdering;
use std::mem::size_of;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// Levels of the list: with a branching factor of 4, enough for 4^12 = 16M entries.
const MAX_HEIGHT: usize = 12;

/// A node header; its links precede it and its key and value follow it (module docs).
#[repr(C)]
struct Node {
    key_len: usize,
    value_len: usize,
}

const LINK: usize = size_of::<AtomicPtr<Node>>();

/// The position to compare nodes with: a user key and the inverted seqno (`u64::MAX - seq`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe<'a> {
    user: &'a [u8],
    inv_seq: u64,
}

impl<'a> Probe<'a> {
    /// The position of (`user`, `seq`) in the order.
    pub(crate) fn new(user: &'a [u8], seq: SeqNo) -> Self {
        Probe {
            user,
            inv_seq: u64::MAX - seq,
        }
    }

    /// The position of an encoded internal key. The engine seeks with keys from
    /// [`ikey::seek_key`](crate::lsm::ikey::seek_key) and [`ikey::last_key`](crate::lsm::ikey::last_key) (whose kind byte is not a valid kind, which is
    /// fine: the kind takes no part in the order). A key shorter than a trailer compares as
    /// [`ikey::compare`](crate::lsm::ikey::compare) compares it: an empty user key and the bytes it has as the trailer.
    pub(crate) fn from_encoded(ikey: &'a [u8]) -> Self {
        if let Some((user, &[a, b, c, d, e, f, g, h, _kind])) =
            ikey.split_last_chunk::<TRAILER_LEN>()
        {
            return Probe {
                user,
                inv_seq: u64::from_be_bytes([a, b, c, d, e, f, g, h]),
            };
        }
        let (user, trailer) = ikey.split_at(ikey.len().saturating_sub(TRAILER_LEN));
        let mut inv = [0u8; 8];
        for (d, s) in inv.iter_mut().zip(trailer) {
            *d = *s;
        }
        Probe {
            user,
            inv_seq: u64::from_be_bytes(inv),
        }
    }
}

/// Splits a stored (well-formed) encoded key into its probe.
fn probe_of(key: &[u8]) -> Probe<'_> {
    Probe::from_encoded(key)
}

/// The writer's state, behind the writer mutex.
struct Writer {
    arena: Arena,
    /// xorshift64 state for node heights.
    rng: u64,
}

impl Writer {
    /// A height with P(h > k) = 4^-k, at most [`MAX_HEIGHT`].
    fn random_height(&mut self) -> usize {
        let mut h = 1;
        while h < MAX_HEIGHT {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if self.rng & 3 != 0 {
                break;
            }
            h += 1;
        }
        h
    }
}

/// An ordered map of versions with one writer and lock-free readers (module docs).
pub(crate) struct SkipList {
    head: [AtomicPtr<Node>; MAX_HEIGHT],
    /// Levels in use (only grows; readers may see it early or late, both are fine).
    height: AtomicUsize,
    /// Whether some (key, seqno) was inserted twice (module docs).
    has_dups: AtomicBool,
    len: AtomicUsize,
    /// The arena's [`Arena::used`], for readers that must not take the writer lock.
    used: AtomicUsize,
    writer: Mutex<Writer>,
}

// SAFETY: the list owns its arena (inside the mutex) and the nodes in it. Readers on any thread
// only read nodes that were published with a Release store they observed with an Acquire load,
// and never-changing node bytes; the only mutation after publication is of `AtomicPtr` links.
// Writes happen under the mutex. No thread-local state is involved.
unsafe impl Send for SkipList {}
// SAFETY: as for `Send`: shared access is either atomic or reads of immutable published bytes.
unsafe impl Sync for SkipList {}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len())
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl SkipList {
    /// An empty list whose arena chunks suit a memtable of `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        SkipList {
            head: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            height: AtomicUsize::new(1),
            has_dups: AtomicBool::new(false),
            len: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            writer: Mutex::new(Writer {
                arena: Arena::for_budget(budget),
                rng: 0x2545_f491_4f6c_dd1d,
            }),
        }
    }

    /// Number of entries (a (key, seqno) written twice counts once).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes of arena memory held (nodes, keys, values, padding, abandoned chunk tails).
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The link at `level` out of `from` (`None`: the head).
    ///
    /// # Safety
    /// `from` is a node of this list whose height exceeds `level`.
    unsafe fn link(&self, from: Option<NonNull<Node>>, level: usize) -> &AtomicPtr<Node> {
        match from {
            None => &self.head[level],
            // SAFETY: the caller guarantees `from` is a live node of this list with more than
            // `level` links; they are stored (initialised, 8-aligned) just before the header,
            // inside the same arena allocation, which lives as long as `self`.
            Some(n) => unsafe { &*n.as_ptr().cast::<AtomicPtr<Node>>().sub(level + 1) },
        }
    }

    /// The encoded key of `node`.
    ///
    /// # Safety
    /// `node` is a published node of this list; the slice lives no longer than `self`.
    unsafe fn key_of(&self, node: NonNull<Node>) -> &[u8] {
        // SAFETY: a published node's header and key were written before it was linked (module
        // docs) and never change; the key follows the header in the same allocation.
        unsafe {
            let len = (*node.as_ptr()).key_len;
            std::slice::from_raw_parts(node.as_ptr().add(1).cast::<u8>(), len)
        }
    }

    /// The value of `node`.
    ///
    /// # Safety
    /// As for [`key_of`](Self::key_of).
    unsafe fn value_of(&self, node: NonNull<Node>) -> &[u8] {
        // SAFETY: as in `key_of`; the value follows the key in the same allocation.
        unsafe {
            let h = &*node.as_ptr();
            let start = node.as_ptr().add(1).cast::<u8>().add(h.key_len);
            std::slice::from_raw_parts(start, h.value_len)
        }
    }

    /// How `node` compares with `probe`.
    ///
    /// # Safety
    /// As for [`key_of`](Self::key_of).
    unsafe fn cmp(&self, node: NonNull<Node>, probe: &Probe<'_>) -> CmpOrdering {
        // SAFETY: forwarded from the caller.
        let p = probe_of(unsafe { self.key_of(node) });
        p.user.cmp(probe.user).then(p.inv_seq.cmp(&probe.inv_seq))
    }

    /// Whether two nodes hold the same (key, seqno): equal encoded keys but for the kind byte.
    ///
    /// # Safety
    /// As for [`key_of`](Self::key_of), for both nodes.
    unsafe fn same_version(&self, a: NonNull<Node>, b: NonNull<Node>) -> bool {
        // SAFETY: forwarded from the caller.
        let (a, b) = unsafe { (self.key_of(a), self.key_of(b)) };
        a.split_last().map(|(_, k)| k) == b.split_last().map(|(_, k)| k)
    }

    /// The last node `< probe` on every level (`None`: the head), from the top level down, and
    /// the level-0 successor that the search compared `>= probe` (`None`: the end of the list).
    ///
    /// Callers must use the returned successor, never re-load `prev[0]`'s link: a writer may link
    /// a node behind `prev[0]` after the search compared its successor, and such a node was never
    /// compared with `probe` (see `a_seek_racing_an_insert_returns_the_node_it_compared`).
    fn find_less_than(
        &self,
        probe: &Probe<'_>,
        prev: &mut [Option<NonNull<Node>>; MAX_HEIGHT],
    ) -> Option<NonNull<Node>> {
        let mut x = None;
        let mut next = None;
        let top = self.height.load(Ordering::Relaxed);
        for level in (0..MAX_HEIGHT).rev() {
            if level < top {
                loop {
                    // SAFETY: `x` is the head or a node reached on this level or above, so it
                    // has a link at `level`.
                    next = NonNull::new(unsafe { self.link(x, level) }.load(Ordering::Acquire));
                    match next {
                        // SAFETY: a node loaded (Acquire) from a link of this list is published.
                        Some(n) if unsafe { self.cmp(n, probe) } == CmpOrdering::Less => {
                            x = Some(n)
                        }
                        _ => break,
                    }
                }
            }
            prev[level] = x;
        }
        #[cfg(test)]
        tests::after_search(self);
        // `top >= 1` (the height starts at 1 and only grows), so level 0 was searched and `next`
        // is the first node it found `>= probe`.
        next
    }

    /// The last node `< probe` (`None`: none is) and the first node `>= probe` the search saw
    /// (`None`: none was).
    fn search(&self, probe: &Probe<'_>) -> (Option<NonNull<Node>>, Option<NonNull<Node>>) {
        let mut prev = [None; MAX_HEIGHT];
        let next = self.find_less_than(probe, &mut prev);
        (prev[0], next)
    }

    /// The first node of the run of nodes equal to `node`, when duplicates exist.
    fn run_start(&self, node: NonNull<Node>) -> NonNull<Node> {
        // After the node was found (Acquire loads), so a duplicate that could precede it is seen.
        if !self.has_dups.load(Ordering::Acquire) {
            return node;
        }
        // SAFETY: `node` is a published node of this list.
        let probe = probe_of(unsafe { self.key_of(node) });
        // The first node `>= node`'s key as compared by the search: `node` itself or a newer
        // node of its run (never null while `node` is in the list).
        self.search(&probe).1.unwrap_or(node)
    }

    fn entry(&self, node: Option<NonNull<Node>>) -> Option<Entry<'_>> {
        node.map(|node| Entry { list: self, node })
    }

    /// The first entry `>= probe`.
    pub(crate) fn lower_bound(&self, probe: &Probe<'_>) -> Option<Entry<'_>> {
        self.entry(self.search(probe).1)
    }

    /// The last entry `<= probe`.
    pub(crate) fn upper_bound(&self, probe: &Probe<'_>) -> Option<Entry<'_>> {
        let (before, next) = self.search(probe);
        // SAFETY: `n` was loaded (Acquire) from a link of this list.
        if let Some(n) = next.filter(|&n| unsafe { self.cmp(n, probe) } == CmpOrdering::Equal) {
            return self.entry(Some(n));
        }
        self.entry(before.map(|b| self.run_start(b)))
    }

    /// The first entry.
    pub(crate) fn first(&self) -> Option<Entry<'_>> {
        self.entry(NonNull::new(self.head[0].load(Ordering::Acquire)))
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<Entry<'_>> {
        let mut x = None;
        for level in (0..self.height.load(Ordering::Relaxed)).rev() {
            // SAFETY: `x` is the head or a node reached on this level or above.
            while let Some(n) = NonNull::new(unsafe { self.link(x, level) }.load(Ordering::Acquire))
            {
                x = Some(n);
            }
        }
        self.entry(x.map(|n| self.run_start(n)))
    }

    /// Re-creates an entry from [`Entry::detach`].
    ///
    /// # Safety
    /// `node` came from an entry of this very list (not merely an equal one).
    pub(crate) unsafe fn attach(&self, node: NodePtr) -> Entry<'_> {
        Entry {
            list: self,
            node: node.0,
        }
    }

    /// Inserts the version (`user_key`, `seq`, `kind`) → `value`. Inserting a (key, seqno) that
    /// is already present shadows it: readers see only the newest insert (module docs). The
    /// memtable inserts whole commits with [`insert_batch`](Self::insert_batch); tests, and the
    /// reference that batch inserts are checked against, use this.
    #[cfg(test)]
    pub(crate) fn insert(&self, user_key: &[u8], seq: SeqNo, kind: Kind, value: &[u8]) {
        let mut w = self.writer.lock();
        let probe = Probe::new(user_key, seq);
        let mut prev = [None; MAX_HEIGHT];
        // Under the writer lock nothing is linked meanwhile: `after` follows `prev[0]`.
        let after = self.find_less_than(&probe, &mut prev);
        let (_, added) = self.link_new(&mut w, &probe, kind, value, &prev, after);
        if added {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        self.used.store(w.arena.used(), Ordering::Relaxed);
    }

    /// Inserts the versions `ops` (user key, kind, value), all of seqno `seq`, as if by
    /// [`insert`](Self::insert) one after the other in order (a key written twice reads as its
    /// last write), under one hold of the writer lock.
    ///
    /// Up to [`BATCH_SEARCHES`] insert positions are searched at once, one step of each search
    /// in turn, and each step prefetches the node the search compares next: the searches' cache
    /// misses (most of an insert's time) overlap instead of following one another. The nodes are
    /// then linked one by one, exactly as `insert` links them; each link may change the insert
    /// position of a later op of the group, which [`Search::after_link`] corrects.
    pub(crate) fn insert_batch<'k>(
        &self,
        seq: SeqNo,
        ops: impl IntoIterator<Item = (&'k [u8], Kind, &'k [u8])>,
    ) {
        let mut w = self.writer.lock();
        let mut added = 0;
        let mut ops = ops.into_iter();
        let empty = (&[][..], Kind::Put, &[][..]);
        loop {
            // The next group, in arrays on the stack (a commit is usually one small group).
            let mut group = [empty; BATCH_SEARCHES];
            let mut n = 0;
            for (slot, op) in group.iter_mut().zip(ops.by_ref()) {
                *slot = op;
                n += 1;
            }
            let (Some(group), true) = (group.get(..n), n > 0) else {
                break;
            };
            let mut searches: [Search<'_>; BATCH_SEARCHES] = std::array::from_fn(|i| {
                Search::new(Probe::new(group.get(i).map_or(&[], |o| o.0), seq))
            });
            let Some(searches) = searches.get_mut(..n) else {
                break;
            };
            self.search_all(searches);
            for (i, (_, kind, value)) in group.iter().enumerate() {
                let Some((done, later)) = searches.get_mut(i..).and_then(|s| s.split_first_mut())
                else {
                    break;
                };
                let (node, new) =
                    self.link_new(&mut w, &done.probe, *kind, value, &done.prev, done.next);
                added += usize::from(new);
                for s in later {
                    // SAFETY: `node` was just linked into this list by this writer, at
                    // `done.prev`.
                    unsafe { s.after_link(self, node, &done.prev) };
                }
            }
            if n < BATCH_SEARCHES {
                break;
            }
        }
        if added > 0 {
            self.len.fetch_add(added, Ordering::Relaxed);
        }
        self.used.store(w.arena.used(), Ordering::Relaxed);
    }

    /// Runs `searches` to completion, one step of each in turn (see [`insert_batch`](Self::insert_batch)).
    /// Only the writer calls it (it holds the writer lock), so the list does not change meanwhile.
    fn search_all(&self, searches: &mut [Search<'_>]) {
        let top = self.height.load(Ordering::Relaxed);
        for s in searches.iter_mut() {
            s.level = top - 1;
            s.cand = NonNull::new(self.head[s.level].load(Ordering::Acquire));
            prefetch(s.cand, s.level);
        }
        let mut left = searches.len();
        while left > 0 {
            for s in searches.iter_mut().filter(|s| !s.done) {
                // SAFETY: `cand` was loaded (Acquire) from a link of this list.
                match s.cand {
                    Some(n) if unsafe { self.cmp(n, &s.probe) } == CmpOrdering::Less => {
                        s.x = Some(n)
                    }
                    _ => {
                        s.prev[s.level] = s.x;
                        if s.level == 0 {
                            s.next = s.cand;
                            s.done = true;
                            left -= 1;
                            continue;
                        }
                        s.level -= 1;
                    }
                }
                // SAFETY: `x` is the head or a node reached on `level` or above.
                s.cand = NonNull::new(unsafe { self.link(s.x, s.level) }.load(Ordering::Acquire));
                prefetch(s.cand, s.level);
            }
        }
    }

    /// Writes a node for (`probe`, `kind`) → `value` into the arena and links it at the insert
    /// position `prev` (the last node `< probe` on every level, from a search under the writer
    /// lock `w`) whose level-0 successor is `after`. Returns the node and whether it is a new
    /// entry (`false`: it shadows an equal (key, seqno), see the module docs).
    fn link_new(
        &self,
        w: &mut Writer,
        probe: &Probe<'_>,
        kind: Kind,
        value: &[u8],
        prev: &[Option<NonNull<Node>>; MAX_HEIGHT],
        after: Option<NonNull<Node>>,
    ) -> (NonNull<Node>, bool) {
        // SAFETY: `n` was loaded from a link of this list.
        let dup = after.is_some_and(|n| unsafe { self.cmp(n, probe) } == CmpOrdering::Equal);
        let user_key = probe.user;
        let height = w.random_height();
        let key_len = user_key.len() + TRAILER_LEN;
        let size = LINK * height + size_of::<Node>() + key_len + value.len();
        let base = w.arena.alloc(size);
        // SAFETY: `base` is a fresh, 8-aligned, exclusively ours allocation of `size` bytes, so
        // the links (`height` × 8 bytes), the header and the key and value bytes written below
        // all lie inside it and nobody reads them until the node is linked further down.
        let node = unsafe {
            let node = base.as_ptr().add(LINK * height).cast::<Node>();
            node.write(Node {
                key_len,
                value_len: value.len(),
            });
            let mut dst = node.add(1).cast::<u8>();
            ptr::copy_nonoverlapping(user_key.as_ptr(), dst, user_key.len());
            dst = dst.add(user_key.len());
            let trailer = probe.inv_seq.to_be_bytes();
            ptr::copy_nonoverlapping(trailer.as_ptr(), dst, trailer.len());
            dst.add(trailer.len()).write(kind as u8);
            dst = dst.add(TRAILER_LEN);
            ptr::copy_nonoverlapping(value.as_ptr(), dst, value.len());
            let node = NonNull::new_unchecked(node);
            for (level, p) in prev.iter().enumerate().take(height) {
                let next = self.link(*p, level).load(Ordering::Relaxed);
                node.as_ptr()
                    .cast::<AtomicPtr<Node>>()
                    .sub(level + 1)
                    .write(AtomicPtr::new(next));
            }
            node
        };
        if height > self.height.load(Ordering::Relaxed) {
            self.height.store(height, Ordering::Relaxed);
        }
        if dup {
            // Before the link below (Release), so readers that reach the node see the flag.
            self.has_dups.store(true, Ordering::Release);
        }
        for (level, p) in prev.iter().enumerate().take(height) {
            // SAFETY: `p` is the head or a node of this list reached on `level` or above.
            unsafe { self.link(*p, level) }.store(node.as_ptr(), Ordering::Release);
        }
        (node, !dup)
    }
}

/// How many insert positions [`SkipList::insert_batch`] searches at once: enough to overlap the
/// cache misses of a small transaction's writes (a row and its index entries), few enough that
/// the searches' state stays in registers and L1.
const BATCH_SEARCHES: usize = 4;

/// One insert position being searched by [`SkipList::search_all`].
struct Search<'a> {
    probe: Probe<'a>,
    /// The last node `< probe` found on `level` so far (`None`: the head).
    x: Option<NonNull<Node>>,
    level: usize,
    /// The node after `x` on `level`, loaded and prefetched, to be compared next.
    cand: Option<NonNull<Node>>,
    /// Per level, the last node `< probe` (filled from the top down).
    prev: [Option<NonNull<Node>>; MAX_HEIGHT],
    /// The level-0 successor compared `>= probe` (once `done`).
    next: Option<NonNull<Node>>,
    done: bool,
}

impl<'a> Search<'a> {
    fn new(probe: Probe<'a>) -> Self {
        Search {
            probe,
            x: None,
            level: 0,
            cand: None,
            prev: [None; MAX_HEIGHT],
            next: None,
            done: false,
        }
    }

    /// Keeps this finished search's insert position exact after `node` was linked at the
    /// position `at` (its own search's `prev`). On a level where both positions had the same
    /// predecessor, `node` now follows it: if `node < probe`, `node` is the new last node
    /// `< probe` there; otherwise it is the new successor (which matters on level 0 only, as
    /// `next`). Elsewhere nothing between this position's predecessor and successor changed.
    /// An equal (key, seqno) is not `< probe`, so a later write of it goes in front, as with
    /// [`SkipList::insert`].
    ///
    /// # Safety
    /// `node` is a node of `list` that was just linked at `at` by the writer, which still holds
    /// the writer lock.
    unsafe fn after_link(
        &mut self,
        list: &SkipList,
        node: NonNull<Node>,
        at: &[Option<NonNull<Node>>; MAX_HEIGHT],
    ) {
        // SAFETY: `node` is a node of `list` (forwarded from the caller).
        let less = unsafe { list.cmp(node, &self.probe) } == CmpOrdering::Less;
        // The levels `node` was linked on: those whose link out of `at[level]` is `node`.
        for (level, (mine, &theirs)) in self.prev.iter_mut().zip(at).enumerate() {
            if *mine != theirs {
                continue;
            }
            // SAFETY: `theirs` is the head or a node of `list` with a link at `level` (it was
            // the predecessor on `level` of the position `node` was linked at).
            let linked = unsafe { list.link(theirs, level) }.load(Ordering::Relaxed);
            if linked != node.as_ptr() {
                continue;
            }
            if less {
                *mine = Some(node);
            } else if level == 0 {
                self.next = Some(node);
            }
        }
    }
}

/// Asks the CPU to fetch the cache lines a search reads next from `node`: its header (the key's
/// length, the key's first bytes) and its link at `level`.
#[inline(always)]
fn prefetch(node: Option<NonNull<Node>>, level: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(n) = node {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let header = n.as_ptr().cast::<i8>();
        let link = header.wrapping_sub(LINK * (level + 1));
        // SAFETY: a prefetch is a hint that never faults and reads nothing the program sees,
        // whatever the address; both addresses are computed without dereferencing.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(header);
            _mm_prefetch::<_MM_HINT_T0>(link);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (node, level);
}

/// A node of a list, detached from the list's lifetime, for cursors that own the list through an
/// `Arc` (see [`SkipList::attach`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodePtr(NonNull<Node>);

// SAFETY: a `NodePtr` is only an address; dereferencing it needs `SkipList::attach`, whose
// caller proves the list (and so the node) is alive. Published nodes are immutable but for
// atomic links, so they may be read from any thread.
unsafe impl Send for NodePtr {}
// SAFETY: as for `Send`.
unsafe impl Sync for NodePtr {}

/// One entry of a list (the newest node of its (key, seqno)), borrowed from the list.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    list: &'a SkipList,
    node: NonNull<Node>,
}

impl<'a> Entry<'a> {
    /// The encoded internal key ([`ikey`](crate::lsm::ikey) layout).
    pub(crate) fn key(&self) -> &'a [u8] {
        // SAFETY: `node` is a published node of `list` (entries are only made from nodes
        // loaded from the list's links), and `list` outlives `'a`.
        unsafe { self.list.key_of(self.node) }
    }

    /// The value (empty for a tombstone).
    pub(crate) fn value(&self) -> &'a [u8] {
        // SAFETY: as in `key`.
        unsafe { self.list.value_of(self.node) }
    }

    /// The next entry in order.
    pub(crate) fn next(&self) -> Option<Entry<'a>> {
        let list = self.list;
        // SAFETY: `node` is a node of `list`; every node has a level-0 link.
        let mut next =
            NonNull::new(unsafe { list.link(Some(self.node), 0) }.load(Ordering::Acquire));
        if list.has_dups.load(Ordering::Acquire) {
            // SAFETY: `n` was loaded from a link of `list`, so it is a published node of it.
            while let Some(n) = next.filter(|&n| unsafe { list.same_version(n, self.node) }) {
                // SAFETY: as above.
                next = NonNull::new(unsafe { list.link(Some(n), 0) }.load(Ordering::Acquire));
            }
        }
        list.entry(next)
    }

    /// The previous entry in order (a fresh search, as in LevelDB).
    pub(crate) fn prev(&self) -> Option<Entry<'a>> {
        let before = self.list.search(&probe_of(self.key())).0;
        self.list.entry(before.map(|b| self.list.run_start(b)))
    }

    /// The node, without the borrow of the list (see [`SkipList::attach`]).
    pub(crate) fn detach(&self) -> NodePtr {
        NodePtr(self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::{self, parse};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A hook run at the end of each search on this thread (returns whether it is done).
    type Hook = Box<dyn FnMut(&SkipList) -> bool>;

    thread_local! {
        static AFTER_SEARCH: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Called by [`SkipList::find_less_than`] once its search is over: the moment a concurrent
    /// writer could link a node behind the node found. Runs the hook set by [`race_with`], with
    /// the hook unset meanwhile so the inserts it makes do not run it again.
    pub(super) fn after_search(list: &SkipList) {
        if let Some(mut hook) = AFTER_SEARCH.with(|h| h.borrow_mut().take()) {
            if !hook(list) {
                AFTER_SEARCH.with(|h| *h.borrow_mut() = Some(hook));
            }
        }
    }

    /// Makes the `nth` search (0-based) on this thread from now insert (`key`, `seq`), as a
    /// writer racing the reader would, deterministically.
    fn race_with(nth: usize, key: &'static [u8], seq: SeqNo) {
        let mut left = nth;
        let hook: Hook = Box::new(move |list| {
            if left > 0 {
                left -= 1;
                return false;
            }
            list.insert(key, seq, Kind::Put, b"racing");
            true
        });
        AFTER_SEARCH.with(|h| *h.borrow_mut() = Some(hook));
    }

    fn at(e: Option<Entry<'_>>) -> Option<(Vec<u8>, SeqNo)> {
        e.map(|e| {
            let p = parse(e.key()).expect("stored key");
            (p.user_key.to_vec(), p.seq)
        })
    }

    /// The bug that made the first arena memtable fail `tests/concurrency.rs`: a seek searched
    /// for the last node `< probe`, then re-loaded that node's level-0 link and returned what it
    /// found there. A writer linking a node in between (a newer version of the key, or another
    /// key) made the seek return a node it never compared: a version above the reader's
    /// snapshot, or a different user key (a point read then missed a visible version).
    #[test]
    fn a_seek_racing_an_insert_returns_the_node_it_compared() {
        let l = SkipList::new(0);
        l.insert(b"a", 1, Kind::Put, b"a1");
        l.insert(b"k", 5, Kind::Put, b"k5");
        // Another key lands between (a, 1) and (k, 5) while a reader at snapshot 7 seeks (k, 7):
        // it must still get (k, 5), not (b, 10).
        race_with(0, b"b", 10);
        assert_eq!(
            at(l.lower_bound(&Probe::new(b"k", 7))),
            Some((b"k".to_vec(), 5))
        );
        // A newer version of `k` lands between (b, 10) and (k, 5): (k, 5), not (k, 9).
        race_with(0, b"k", 9);
        assert_eq!(
            at(l.lower_bound(&Probe::new(b"k", 7))),
            Some((b"k".to_vec(), 5))
        );
        assert_eq!(
            versions(&l),
            owned(&[(&b"a"[..], 1), (b"b", 10), (b"k", 9), (b"k", 5)])
        );
    }

    /// As above, with the racing writer inserting a whole batch (a newer version of the key
    /// sought and a key in front of it): the seek still returns the node it compared.
    #[test]
    fn a_seek_racing_a_batch_returns_the_node_it_compared() {
        let l = SkipList::new(0);
        l.insert(b"a", 1, Kind::Put, b"a1");
        l.insert(b"k", 5, Kind::Put, b"k5");
        let hook: Hook = Box::new(|list| {
            list.insert_batch(
                10,
                [
                    (&b"k"[..], Kind::Put, &b"k10"[..]),
                    (b"b", Kind::Put, b"b10"),
                ],
            );
            true
        });
        AFTER_SEARCH.with(|h| *h.borrow_mut() = Some(hook));
        assert_eq!(
            at(l.lower_bound(&Probe::new(b"k", 7))),
            Some((b"k".to_vec(), 5))
        );
        assert_eq!(
            versions(&l),
            owned(&[(&b"a"[..], 1), (b"b", 10), (b"k", 10), (b"k", 5)])
        );
    }

    /// With duplicates present, stepping back finds the previous entry, then the start of its run
    /// with a second search; a node linked in front of that run meanwhile must not replace it
    /// (a reverse scan would skip the run).
    #[test]
    fn stepping_back_while_an_insert_races_finds_the_previous_run() {
        let l = SkipList::new(0);
        l.insert(b"a", 1, Kind::Put, b"a1");
        l.insert(b"c", 1, Kind::Put, b"first");
        l.insert(b"c", 1, Kind::Put, b"last");
        l.insert(b"e", 1, Kind::Put, b"e1");
        let e = l.lower_bound(&Probe::new(b"e", 1)).expect("present");
        // The second search (the run start of (c, 1)) races with an insert of (b, 9).
        race_with(1, b"b", 9);
        let c = e.prev().expect("(c, 1)");
        assert_eq!(at(Some(c)), Some((b"c".to_vec(), 1)));
        assert_eq!(c.value(), b"last");
        assert_eq!(at(c.prev()), Some((b"b".to_vec(), 9)));
    }

    /// Every entry from `e` on, stepping with `step`.
    fn walk<'a>(
        mut e: Option<Entry<'a>>,
        step: impl Fn(&Entry<'a>) -> Option<Entry<'a>>,
    ) -> Vec<(Vec<u8>, SeqNo, Kind, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(x) = e {
            let p = parse(x.key()).expect("stored key");
            out.push((p.user_key.to_vec(), p.seq, p.kind, x.value().to_vec()));
            e = step(&x);
        }
        out
    }

    fn keys(list: &SkipList) -> Vec<(Vec<u8>, SeqNo, Kind, Vec<u8>)> {
        walk(list.first(), Entry::next)
    }

    /// `(user key, seqno)` of every version, in list order.
    fn versions(list: &SkipList) -> Vec<(Vec<u8>, SeqNo)> {
        keys(list).into_iter().map(|e| (e.0, e.1)).collect()
    }

    fn owned(versions: &[(&[u8], SeqNo)]) -> Vec<(Vec<u8>, SeqNo)> {
        versions.iter().map(|(k, s)| (k.to_vec(), *s)).collect()
    }

    fn keys_rev(list: &SkipList) -> Vec<(Vec<u8>, SeqNo, Kind, Vec<u8>)> {
        walk(list.last(), Entry::prev)
    }

    #[test]
    fn orders_by_user_key_then_newest_first() {
        let l = SkipList::new(0);
        assert!(l.first().is_none() && l.last().is_none());
        for (k, s) in [
            (&b"b"[..], 1),
            (b"a", 1),
            (b"a", 5),
            (b"", 2),
            (b"a\x00", 3),
            (b"b", 9),
        ] {
            l.insert(k, s, Kind::Put, k);
        }
        let want = owned(&[
            (&b""[..], 2),
            (b"a", 5),
            (b"a", 1),
            (b"a\x00", 3),
            (b"b", 9),
            (b"b", 1),
        ]);
        assert_eq!(versions(&l), want);
        let mut rev = keys_rev(&l);
        rev.reverse();
        assert_eq!(rev, keys(&l));
        assert_eq!(l.len(), 6);
    }

    #[test]
    fn seeks_land_on_bounds() {
        let l = SkipList::new(0);
        for i in (0..200u32).step_by(2) {
            l.insert(&i.to_be_bytes(), 7, Kind::Put, b"v");
        }
        let user = |e: Option<Entry<'_>>| e.map(|e| ikey::user_key(e.key()).to_vec());
        let k = |i: u32| Some(i.to_be_bytes().to_vec());
        // Newer than any version: lands on the key's newest version, or the next key.
        let p = ikey::seek_key(&10u32.to_be_bytes(), 9);
        assert_eq!(user(l.lower_bound(&Probe::from_encoded(&p))), k(10));
        let p = ikey::seek_key(&11u32.to_be_bytes(), 9);
        assert_eq!(user(l.lower_bound(&Probe::from_encoded(&p))), k(12));
        // Older than every version of 10: lower bound moves on, upper bound stays.
        let p = ikey::seek_key(&10u32.to_be_bytes(), 3);
        assert_eq!(user(l.lower_bound(&Probe::from_encoded(&p))), k(12));
        assert_eq!(user(l.upper_bound(&Probe::from_encoded(&p))), k(10));
        let p = ikey::seek_key(&10u32.to_be_bytes(), 7);
        assert_eq!(user(l.upper_bound(&Probe::from_encoded(&p))), k(10));
        let p = ikey::seek_key(&10u32.to_be_bytes(), 9);
        assert_eq!(user(l.upper_bound(&Probe::from_encoded(&p))), k(8));
        assert_eq!(
            user(l.upper_bound(&Probe::from_encoded(&ikey::last_key(&11u32.to_be_bytes())))),
            k(10)
        );
        assert_eq!(
            user(l.lower_bound(&Probe::from_encoded(&ikey::last_key(&198u32.to_be_bytes())))),
            None
        );
        assert_eq!(
            user(l.upper_bound(&Probe::from_encoded(&ikey::seek_key(&[], 5)))),
            None
        );
        // Probes shorter than a trailer compare like `ikey::compare` does.
        assert_eq!(user(l.lower_bound(&Probe::from_encoded(b""))), k(0));
        assert_eq!(user(l.upper_bound(&Probe::from_encoded(b"\xff"))), None);
    }

    #[test]
    fn a_version_written_twice_reads_as_its_last_write() {
        let l = SkipList::new(0);
        l.insert(b"a", 1, Kind::Put, b"a1");
        l.insert(b"k", 7, Kind::Put, b"first");
        l.insert(b"k", 7, Kind::Delete, b"");
        l.insert(b"k", 7, Kind::Put, b"third");
        l.insert(b"k", 6, Kind::Put, b"older");
        l.insert(b"z", 1, Kind::Put, b"z1");
        assert_eq!(l.len(), 4);
        let fwd = keys(&l);
        assert_eq!(
            fwd.iter()
                .map(|e| (e.0.as_slice(), e.1, e.3.as_slice()))
                .collect::<Vec<_>>(),
            [
                (&b"a"[..], 1, &b"a1"[..]),
                (b"k", 7, b"third"),
                (b"k", 6, b"older"),
                (b"z", 1, b"z1")
            ]
        );
        let mut rev = keys_rev(&l);
        rev.reverse();
        assert_eq!(rev, fwd);
        let at = |seq| {
            let p = ikey::seek_key(b"k", seq);
            l.upper_bound(&Probe::from_encoded(&p))
                .map(|e| e.value().to_vec())
        };
        assert_eq!(at(7), Some(b"third".to_vec()));
        let e = l.lower_bound(&Probe::new(b"k", 7)).expect("present");
        assert_eq!(e.value(), b"third");
        assert_eq!(e.prev().map(|p| p.value().to_vec()), Some(b"a1".to_vec()));
    }

    #[test]
    fn large_values_get_their_own_chunk() {
        let l = SkipList::new(64 << 10);
        let big = vec![7u8; 3 << 20];
        l.insert(b"small", 1, Kind::Put, b"x");
        l.insert(b"big", 2, Kind::Put, &big);
        l.insert(b"small2", 3, Kind::Put, b"y");
        assert!(l.used() >= big.len());
        let e = l.lower_bound(&Probe::new(b"big", 2)).expect("present");
        assert_eq!(e.value(), big.as_slice());
        assert_eq!(keys(&l).len(), 3);
    }

    #[test]
    fn a_batch_reads_as_its_ops_inserted_one_by_one() {
        let l = SkipList::new(0);
        l.insert(b"b", 1, Kind::Put, b"b1");
        l.insert(b"d", 1, Kind::Put, b"d1");
        // Neighbours in one group (c then a then c again: the last write wins), a key equal to
        // a stored one at another seqno, and more ops than one group of searches.
        let ops: [(&[u8], Kind, &[u8]); 7] = [
            (b"c", Kind::Put, b"c-first"),
            (b"a", Kind::Put, b"a2"),
            (b"c", Kind::Put, b"c-last"),
            (b"b", Kind::Delete, b""),
            (b"cc", Kind::Put, b"cc2"),
            (b"a", Kind::Put, b"a-last"),
            (b"e", Kind::Put, b"e2"),
        ];
        l.insert_batch(2, ops);
        let got: Vec<_> = keys(&l)
            .into_iter()
            .map(|(k, s, kind, v)| (String::from_utf8(k).unwrap_or_default(), s, kind, v))
            .collect();
        let want: Vec<(String, SeqNo, Kind, Vec<u8>)> = [
            ("a", 2, Kind::Put, &b"a-last"[..]),
            ("b", 2, Kind::Delete, b""),
            ("b", 1, Kind::Put, b"b1"),
            ("c", 2, Kind::Put, b"c-last"),
            ("cc", 2, Kind::Put, b"cc2"),
            ("d", 1, Kind::Put, b"d1"),
            ("e", 2, Kind::Put, b"e2"),
        ]
        .iter()
        .map(|(k, s, kind, v)| (k.to_string(), *s, *kind, v.to_vec()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(l.len(), 7);
        let mut rev = keys_rev(&l);
        rev.reverse();
        assert_eq!(rev, keys(&l));
        l.insert_batch(3, std::iter::empty());
        assert_eq!(l.len(), 7);
    }

    proptest::proptest! {
        /// The list against a `BTreeMap` keyed the way `ikey::compare` orders: contents both
        /// ways, and every seek.
        #[test]
        fn matches_a_btreemap(
            ops in proptest::collection::vec(
                (proptest::collection::vec(0u8..3, 0..4), 0u64..4, proptest::bool::ANY,
                 proptest::collection::vec(proptest::num::u8::ANY, 0..3)),
                0..60),
            seeks in proptest::collection::vec((proptest::collection::vec(0u8..3, 0..4), 0u64..5), 0..20),
        ) {
            let l = SkipList::new(0);
            let mut model = BTreeMap::new();
            for (k, s, del, v) in &ops {
                let kind = if *del { Kind::Delete } else { Kind::Put };
                l.insert(k, *s, kind, v);
                model.insert((k.clone(), u64::MAX - s), (kind, v.clone()));
            }
            // The same ops again as batches (one per seqno, in op order) into a second list:
            // the same contents as one-by-one inserts.
            let batched = SkipList::new(0);
            for seq in 0..4 {
                batched.insert_batch(seq, ops.iter().filter(|o| o.1 == seq).map(|(k, _, del, v)| {
                    (k.as_slice(), if *del { Kind::Delete } else { Kind::Put }, v.as_slice())
                }));
            }
            proptest::prop_assert_eq!(batched.len(), l.len());
            proptest::prop_assert_eq!(keys(&batched), keys(&l));
            let mut rev = keys_rev(&batched);
            rev.reverse();
            proptest::prop_assert_eq!(rev, keys(&l));
            let want: Vec<_> = model
                .iter()
                .map(|((k, inv), (kind, v))| (k.clone(), u64::MAX - inv, *kind, v.clone()))
                .collect();
            proptest::prop_assert_eq!(l.len(), want.len());
            proptest::prop_assert_eq!(&keys(&l), &want);
            let mut rev = keys_rev(&l);
            rev.reverse();
            proptest::prop_assert_eq!(&rev, &want);
            for (k, s) in &seeks {
                let p = Probe::new(k, *s);
                let key = (k.clone(), u64::MAX - s);
                let lb = model.range(key.clone()..).next().map(|(k, _)| k.clone());
                let ub = model.range(..=key).next_back().map(|(k, _)| k.clone());
                let as_model = |e: Option<Entry<'_>>| e.map(|e| {
                    let p = parse(e.key()).expect("stored key");
                    (p.user_key.to_vec(), u64::MAX - p.seq)
                });
                proptest::prop_assert_eq!(as_model(l.lower_bound(&p)), lb);
                proptest::prop_assert_eq!(as_model(l.upper_bound(&p)), ub);
            }
        }
    }
}
