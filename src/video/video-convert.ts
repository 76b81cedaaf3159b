import { fileArg, runTool, ToolRunError } from './ffmpeg-runner.js';

/** Where in a video the poster is taken from, as fractions of its duration, in order of preference. */
const POSTER_AT = [0.1, 0.3, 0.5, 0];
/** The frame is scaled to fit this box before it leaves ffmpeg (the preview's size). */
const FRAME_BOX = 1600;

/**
 * One frame of a video `at` a fraction of its duration, scaled to fit the preview box, turned as the
 * player turns it (ffmpeg applies the rotation), as PNG bytes (a few MB at most: the output is capped).
 */
export async function extractFrame(file: string, durationMs: number, at: number): Promise<Buffer> {
  const seconds = ((durationMs * at) / 1000).toFixed(3);
  return runTool(
    'ffmpeg',
    [
      '-hide_banner',
      '-v',
      'error',
      '-nostdin',
      '-protocol_whitelist',
      'file,pipe',
      // Two decoding threads: each more holds frames of its own, and the memory estimate assumes two.
      '-threads',
      '2',
      '-ss',
      seconds,
      '-i',
      fileArg(file),
      '-frames:v',
      '1',
      '-an',
      '-sn',
      '-vf',
      `scale=w='min(iw,${FRAME_BOX})':h='min(ih,${FRAME_BOX})':force_original_aspect_ratio=decrease`,
      '-f',
      'image2pipe',
      '-c:v',
      'png',
      'pipe:1',
    ],
    { maxOutputBytes: 32 * 1024 * 1024, timeoutMs: 120_000 },
  );
}

/**
 * The poster frame: 10% in, or later when that frame is one flat colour (a fade from black), the
 * first frame as a last resort. `isUniform` comes from the image module, which owns pixel work.
 */
export async function posterFrame(
  file: string,
  durationMs: number,
  isUniform: (frame: Buffer) => Promise<boolean>,
): Promise<Buffer> {
  let last: Buffer | undefined;
  for (const at of POSTER_AT) {
    let frame: Buffer;
    try {
      frame = await extractFrame(file, durationMs, at);
    } catch (error) {
      if (error instanceof ToolRunError) continue;
      throw error;
    }
    if (frame.length === 0) continue;
    if (!(await isUniform(frame))) return frame;
    last ??= frame;
  }
  if (last) return last;
  throw new ToolRunError('no frame of the video could be decoded', '', 'exit');
}

/**
 * Converts a video to the playback copy every browser plays: H.264 (High, yuv420p) and AAC stereo in
 * MP4, at most 1920×1080 (1080×1920 upright), never enlarged, with the index at the front
 * (`+faststart`) so playback starts before the whole file arrived.
 */
export async function transcodeForPlayback(input: string, output: string, signal?: AbortSignal): Promise<void> {
  await runTool(
    'ffmpeg',
    [
      '-hide_banner',
      '-v',
      'error',
      '-nostdin',
      '-y',
      '-protocol_whitelist',
      'file,pipe',
      '-i',
      fileArg(input),
      '-map',
      '0:v:0',
      '-map',
      '0:a:0?',
      '-sn',
      '-dn',
      '-map_metadata',
      '-1',
      '-vf',
      "scale=w='min(iw,if(gte(iw,ih),1920,1080))':h='min(ih,if(gte(iw,ih),1080,1920))'" +
        ':force_original_aspect_ratio=decrease:force_divisible_by=2',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '23',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-ac',
      '2',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      fileArg(output),
    ],
    { signal },
  );
}
