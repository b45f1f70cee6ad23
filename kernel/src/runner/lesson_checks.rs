//! The store checks for lessons (see `store.rs`): a timing cell measured on a busy machine is
//! run again, and stays unstored if the machine is still busy; a cell's declared claims
//! (`metadata.paralelo.claims`) must hold in its fresh tables. Both read the outputs with
//! `crate::claims`.

use super::store::{CellToStore, StoreCheck, Verdict};
use crate::claims;

/// The checks in force, asked in order; the first answer other than [`Verdict::Store`]
/// decides.
pub(crate) fn checks() -> Vec<Box<dyn StoreCheck>> {
    vec![Box::new(BusyMachine), Box::new(Claims)]
}

/// A `timing` cell whose rows (or `%%time` lines) say other programs took the CPUs.
pub(crate) struct BusyMachine;

impl StoreCheck for BusyMachine {
    fn check(&self, cell: &CellToStore<'_>) -> Verdict {
        if !cell.timing {
            return Verdict::Store;
        }
        let rows = claims::busy_rows(cell.fresh);
        if rows.is_empty() {
            Verdict::Store
        } else {
            Verdict::Retry(claims::busy_message(cell.number, &rows))
        }
    }
}

/// The claims a cell makes about its own tables ("halves the time": `speedup_at_least`).
pub(crate) struct Claims;

impl StoreCheck for Claims {
    fn check(&self, cell: &CellToStore<'_>) -> Verdict {
        let metadata = cell.cell.get("metadata").cloned().unwrap_or_default();
        match claims::check_claims(&metadata, cell.fresh) {
            Ok(()) => Verdict::Store,
            // A claim that fails is measured once more before the cell fails: one slow run
            // must not fail a lesson, two in a row must not be stored.
            Err(why) => Verdict::Retry(format!(
                "{}: cell {}: its claims do not hold in the fresh table:\n{why}",
                cell.notebook, cell.number
            )),
        }
    }
}
