export async function backends(ctx) {
  ctx.skip('backends', 'not written yet');
}
