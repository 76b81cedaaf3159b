export async function usage(ctx) {
  ctx.skip('usage', 'not written yet');
}
