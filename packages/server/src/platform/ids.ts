// Row ids are UUIDs. An id that is not one names no row: the admin operations answer it not-found, like an
// unknown id, without asking the database (which would refuse to compare it with a uuid column).
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether every id can name a row at all. */
export function areUuids(...ids: string[]): boolean {
  return ids.every((id) => UUID_PATTERN.test(id))
}
