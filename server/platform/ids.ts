// One check of "is this a UUID", in the form Postgres's uuid type prints (8-4-4-4-12 hex digits, either
// case). Any version passes, as Postgres accepts any: whether the id names a row is the database's answer.
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string): boolean => UUID.test(value);
