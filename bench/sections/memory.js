export async function memory(ctx) {
  ctx.skip('memory', 'not written yet');
}
