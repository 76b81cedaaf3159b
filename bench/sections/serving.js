export async function serving(ctx) {
  ctx.skip('serving', 'not written yet');
}
