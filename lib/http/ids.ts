const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a UUID: anything else in a path is answered 404 without asking the database (which would reject it). */
export const isUuid = (id: string) => UUID.test(id)
