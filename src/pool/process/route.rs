//! Which route a call of the process pool takes: the one decision, made here. The table
//! and the reasons (with measurements) are in `README.md` beside this file.

/// How a call's work reaches child processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// A process forked for each task (`apply`) or each chunk (`map`), from the caller.
    ForkPerTask,
    /// Up to `workers` children forked for one `map` call, each taking chunk after chunk
    /// (they have every chunk of the window through `fork`).
    ForkPerCall,
    /// The pool's persistent workers (one crew for `apply` and `map`, at most `workers`
    /// processes), forked once and kept between calls. An `apply` that finds no worker
    /// free for it takes [`Route::ForkPerTask`], a `map`'s chunks that find none take
    /// [`Route::ForkPerCall`] (nothing is lost by trying).
    Crew,
}

/// The call, as far as its route depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    /// `apply`, `apply_async`: `stateless` when the closure is zero-sized with no drop
    /// glue (a function item, or a closure that captures nothing).
    Apply { stateless: bool },
    /// `map`, `starmap`, `map_async`: `stateless_plain` when the function is stateless and
    /// the items are plain (numbers, `bool`, `char`).
    Map { stateless_plain: bool },
}

/// The pool, as far as a call's route depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// An initializer runs before each task (per chunk, for `map`).
    pub(super) initializer: bool,
    /// Each task (chunk) is pinned to the next of the pool's cores.
    pub(super) pinned: bool,
    /// `fresh_process_per_task`: never a persistent worker.
    pub(super) fresh: bool,
    /// `maxtasksperchild`: `apply`'s workers retire after so many tasks; `map` forks a
    /// process per chunk.
    pub(super) max_tasks: bool,
    /// This process made the pool (a forked copy has no workers of its own).
    pub(super) owner: bool,
}

/// The route of `call` on a pool of shape `pool`.
pub(super) fn route(call: Call, pool: Shape) -> Route {
    // An initializer before each task, and each task's core in turn, are documented per
    // task: such pools keep a process per task (per chunk).
    let per_task = pool.initializer || pool.pinned;
    match call {
        Call::Apply { stateless } if stateless && !per_task && !pool.fresh && pool.owner => {
            Route::Crew
        }
        Call::Apply { .. } => Route::ForkPerTask,
        Call::Map { .. } if per_task || pool.fresh || pool.max_tasks => Route::ForkPerTask,
        Call::Map { stateless_plain } if stateless_plain && pool.owner => Route::Crew,
        Call::Map { .. } => Route::ForkPerCall,
    }
}

#[cfg(test)]
mod tests {
    use super::{Call, Route, Shape, route};

    const PLAIN: Shape = Shape {
        initializer: false,
        pinned: false,
        fresh: false,
        max_tasks: false,
        owner: true,
    };

    #[test]
    fn stateless_calls_take_the_crew_on_a_plain_pool() {
        assert_eq!(route(Call::Apply { stateless: true }, PLAIN), Route::Crew);
        let map = Call::Map {
            stateless_plain: true,
        };
        assert_eq!(route(map, PLAIN), Route::Crew);
        assert_eq!(
            route(Call::Apply { stateless: false }, PLAIN),
            Route::ForkPerTask
        );
        let map = Call::Map {
            stateless_plain: false,
        };
        assert_eq!(route(map, PLAIN), Route::ForkPerCall);
    }

    #[test]
    fn per_task_pools_fork_per_task() {
        let shapes = [
            Shape {
                initializer: true,
                ..PLAIN
            },
            Shape {
                pinned: true,
                ..PLAIN
            },
            Shape {
                fresh: true,
                ..PLAIN
            },
        ];
        for pool in shapes {
            for stateless in [false, true] {
                assert_eq!(route(Call::Apply { stateless }, pool), Route::ForkPerTask);
                let map = Call::Map {
                    stateless_plain: stateless,
                };
                assert_eq!(route(map, pool), Route::ForkPerTask, "{pool:?}");
            }
        }
    }

    #[test]
    fn maxtasksperchild_keeps_the_apply_crew_and_forks_map_per_chunk() {
        let pool = Shape {
            max_tasks: true,
            ..PLAIN
        };
        assert_eq!(route(Call::Apply { stateless: true }, pool), Route::Crew);
        let map = Call::Map {
            stateless_plain: true,
        };
        assert_eq!(route(map, pool), Route::ForkPerTask);
    }

    #[test]
    fn a_forked_copy_of_the_pool_has_no_crew() {
        let pool = Shape {
            owner: false,
            ..PLAIN
        };
        assert_eq!(
            route(Call::Apply { stateless: true }, pool),
            Route::ForkPerTask
        );
        let map = Call::Map {
            stateless_plain: true,
        };
        assert_eq!(route(map, pool), Route::ForkPerCall);
    }
}
