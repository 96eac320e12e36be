//! Names to positions for a group of up to millions of VMs, by fingerprint.
//!
//! A slot holds a name's fingerprint (two independently, randomly keyed
//! 64-bit hashes: the upper half of the first places the slot, its lower
//! half and all of the second are kept) beside its position, never the
//! name: a lookup touches one 16-byte slot, not the group's strings. Two
//! of a million names share the 96 kept bits with a probability below
//! 10⁻¹⁷; the random keys (new for every table) keep names chosen by
//! someone on the platform from aiming at one.
//!
//! The table is at most half full, so a lookup almost always ends in its
//! first slot, and [`NameTable::each_position`] reads the first slots of a
//! batch of names before it compares any: their cache misses overlap
//! instead of queueing one after another.

/// Names to positions (see the module documentation).
pub(crate) struct NameTable {
    keys: (ahash::RandomState, ahash::RandomState),
    slots: Vec<Slot>,
    mask: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    check: u64,
    tag: u32,
    position: u32,
}

/// A slot's position while it holds no name.
const EMPTY: u32 = u32::MAX;

/// Names whose first slots are read together.
const BATCH: usize = 16;

#[derive(Clone, Copy)]
struct Fingerprint {
    home: u64,
    check: u64,
}

impl Fingerprint {
    fn fits(self, s: Slot) -> bool {
        s.check == self.check && s.tag == self.home as u32
    }
}

impl NameTable {
    /// The table of `names`, each at its place in the sequence; the first
    /// of a repeated name wins. Names past `u32::MAX - 1` are left out.
    pub(crate) fn new<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> NameTable {
        let slots = names.len().max(4).saturating_mul(2).next_power_of_two();
        let mut table = NameTable {
            keys: (ahash::RandomState::new(), ahash::RandomState::new()),
            slots: vec![
                Slot {
                    check: 0,
                    tag: 0,
                    position: EMPTY,
                };
                slots
            ],
            mask: slots - 1,
        };
        for (i, name) in names.enumerate() {
            let Ok(position) = u32::try_from(i) else {
                break;
            };
            if position == EMPTY {
                break;
            }
            let f = table.fingerprint(name);
            let mut at = table.home(f);
            loop {
                let s = &mut table.slots[at];
                if s.position == EMPTY {
                    *s = Slot {
                        check: f.check,
                        tag: f.home as u32,
                        position,
                    };
                    break;
                }
                if f.fits(*s) {
                    break;
                }
                at = (at + 1) & table.mask;
            }
        }
        table
    }

    fn fingerprint(&self, name: &str) -> Fingerprint {
        Fingerprint {
            home: self.keys.0.hash_one(name),
            check: self.keys.1.hash_one(name),
        }
    }

    fn home(&self, f: Fingerprint) -> usize {
        (f.home >> 32) as usize & self.mask
    }

    /// Where the probe for `f` that read `first` (its home slot) ends.
    fn resolve(&self, f: Fingerprint, first: Slot) -> Option<usize> {
        if first.position == EMPTY {
            return None;
        }
        if f.fits(first) {
            return Some(first.position as usize);
        }
        let mut at = self.home(f);
        loop {
            at = (at + 1) & self.mask;
            let s = self.slots[at];
            if s.position == EMPTY {
                return None;
            }
            if f.fits(s) {
                return Some(s.position as usize);
            }
        }
    }

    /// The position of `name`, if the table has it.
    #[cfg(test)]
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        let f = self.fingerprint(name);
        self.resolve(f, self.slots[self.home(f)])
    }

    /// Calls `found` with each item of `items` whose name (read by `name`)
    /// the table has, and its position, in the items' order.
    pub(crate) fn each_position<'a, T>(
        &self,
        items: &'a [T],
        name: impl Fn(&'a T) -> &'a str,
        mut found: impl FnMut(&'a T, usize),
    ) {
        for chunk in items.chunks(BATCH) {
            let mut prints = [Fingerprint { home: 0, check: 0 }; BATCH];
            for (p, item) in prints.iter_mut().zip(chunk) {
                *p = self.fingerprint(name(item));
            }
            // Independent loads: the processor has them all in flight at once.
            let firsts: [Slot; BATCH] = std::array::from_fn(|i| self.slots[self.home(prints[i])]);
            for ((item, f), first) in chunk.iter().zip(prints).zip(firsts) {
                if let Some(at) = self.resolve(f, first) {
                    found(item, at);
                }
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every name is found at its first place and only there; a name
        /// not in the table is not found, one by one or in batches.
        #[test]
        fn finds_each_name_at_its_first_place(
            names in proptest::collection::vec("[a-c]{0,3}", 0..60),
            others in proptest::collection::vec("[d-e]{1,3}", 0..20),
        ) {
            let table = NameTable::new(names.iter().map(String::as_str));
            let first = |n: &str| names.iter().position(|x| x == n);
            for n in names.iter().chain(&others) {
                prop_assert_eq!(table.position(n), first(n), "{:?}", n);
            }
            let asked: Vec<&String> = names.iter().chain(&others).collect();
            let mut got = Vec::new();
            table.each_position(&asked, |n| n.as_str(), |n, at| got.push((n.as_str(), at)));
            let want: Vec<(&str, usize)> = asked
                .iter()
                .filter_map(|n| first(n).map(|at| (n.as_str(), at)))
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn at_most_half_full_in_16_bytes_a_slot() {
        let names: Vec<String> = (0..1000).map(|i| format!("vm{i}")).collect();
        let table = NameTable::new(names.iter().map(String::as_str));
        assert_eq!(std::mem::size_of::<Slot>(), 16);
        assert_eq!(table.bytes(), 2048 * 16);
        assert_eq!(table.position("vm999"), Some(999));
    }
}
