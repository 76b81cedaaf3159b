import { Type, type Static } from 'typebox';

/** Every error answer of every route, public or internal, has this shape. */
export const ErrorSchema = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'Every error answer has this shape.' },
);
export type ErrorBody = Static<typeof ErrorSchema>;

/** Standard error responses of a route, for its schema and the OpenAPI document. */
export const errors = (...statuses: number[]): Record<number, { $ref: string }> =>
  Object.fromEntries(statuses.map((status) => [status, { $ref: 'Error#' }]));

/** The body of a route that answers with no content (204). */
export const NoContent = Type.Null({ description: 'No content' });
