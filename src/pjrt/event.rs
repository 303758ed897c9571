//! PJRT events: completion of asynchronous work, with its error status.

use std::sync::Arc;

use super::error::Result;
use super::ffi::{self, ArgsStruct};
use super::plugin::{pjrt_call, Plugin};

/// An owned `PJRT_Event`, destroyed on drop.
pub struct Event {
    raw: *mut ffi::PJRT_Event,
    plugin: Arc<Plugin>,
}

// SAFETY: PJRT events may be awaited and destroyed from any thread.
unsafe impl Send for Event {}

impl Event {
    /// Takes ownership of `raw`; returns None for a null event (nothing to wait for).
    pub(crate) fn from_raw(plugin: &Arc<Plugin>, raw: *mut ffi::PJRT_Event) -> Option<Event> {
        (!raw.is_null()).then(|| Event {
            raw,
            plugin: plugin.clone(),
        })
    }

    /// Blocks until the event is ready and returns its error status.
    pub fn wait(self) -> Result<()> {
        let mut args = ffi::PJRT_Event_Await_Args::new();
        args.event = self.raw;
        pjrt_call!(&self.plugin, PJRT_Event_Await, &mut args)
    }

    pub fn is_ready(&self) -> Result<bool> {
        let mut args = ffi::PJRT_Event_IsReady_Args::new();
        args.event = self.raw;
        pjrt_call!(&self.plugin, PJRT_Event_IsReady, &mut args)?;
        Ok(args.is_ready)
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Event_Destroy_Args::new();
        args.event = self.raw;
        if let Err(e) = pjrt_call!(&self.plugin, PJRT_Event_Destroy, &mut args) {
            tracing::warn!("destroying a PJRT event: {e}");
        }
    }
}

/// Waits for every event, returning the first error.
pub fn wait_all(events: impl IntoIterator<Item = Event>) -> Result<()> {
    let mut first = Ok(());
    for event in events {
        let status = event.wait();
        if first.is_ok() {
            first = status;
        }
    }
    first
}
