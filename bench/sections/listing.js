export async function listing(ctx) {
  ctx.skip('listing', 'not written yet');
}
