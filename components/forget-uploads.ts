// tus-js-client remembers unfinished uploads in localStorage under keys starting "tus::" (its
// URL storage). On a shared browser the next person must never be offered them.
export function forgetUnfinishedUploads(storage: Storage = window.localStorage): void {
  for (const key of Object.keys(storage)) if (key.startsWith('tus::')) storage.removeItem(key)
}
