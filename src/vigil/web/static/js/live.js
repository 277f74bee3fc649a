// Channel status bus: whoever learns that a channel went on- or offline publishes it here, and
// views showing that channel update in place. A WebSocket feed will publish into it later.

const listeners = new Set();

/** fn({id, online, status_changed_at}) is called for each change; returns an unsubscribe. */
export function onChannelStatus(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function publishChannelStatus(change) {
  listeners.forEach((fn) => fn(change));
}

// Lets scripts and tests drive the bus: window.vigil.publishChannelStatus({id, online}).
window.vigil = Object.assign(window.vigil || {}, { publishChannelStatus });
