/**
 * Headers of the storage service's internal media answer that the public one does not carry as
 * such: the whole object's size (for Content-Range) and its file name (URI-encoded).
 */
export const MEDIA_HEADERS = { totalSize: 'x-pixa-total-size', filename: 'x-pixa-filename' } as const;
