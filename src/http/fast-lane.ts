import http, { type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';

/** What a lane answered, for the request metrics. */
export interface LaneAnswer {
  /** The route pattern, as Fastify would name it. */
  route: string;
  status: number;
}

/**
 * Answers a few hot requests before Fastify routes them: returns `false` at once for a request it
 * does not take; the answer it has already written, when it needed nothing it had to wait for;
 * otherwise a promise of its answer, or of `false` when it declined after a look (then it wrote
 * nothing, and Fastify answers the request from the start, errors included). A rejected promise is a
 * decline too (or, once headers were sent, ends the response). A lane writes only complete,
 * successful answers; everything else is Fastify's.
 */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => false | LaneAnswer | Promise<LaneAnswer | false>;

/** Called for every answer a lane sent, with its duration in seconds. */
export type LaneObserver = (method: string, answer: LaneAnswer, seconds: number) => void;

interface Lanes {
  list: FastLane[];
  observers: LaneObserver[];
  /** Set when the app starts closing: from then on Fastify answers everything (connection: close). */
  closed: boolean;
}

const registry = new WeakMap<Server, Lanes>();

function lanesOf(server: Server): Lanes {
  let lanes = registry.get(server);
  if (!lanes) {
    lanes = { list: [], observers: [], closed: false };
    registry.set(server, lanes);
  }
  return lanes;
}

export function addFastLane(server: Server, lane: FastLane): void {
  lanesOf(server).list.push(lane);
}

export function observeFastLanes(server: Server, observer: LaneObserver): void {
  lanesOf(server).observers.push(observer);
}

export function closeFastLanes(server: Server): void {
  lanesOf(server).closed = true;
}

/**
 * Fastify's `serverFactory`: the HTTP/1 server Fastify would make, with the same options and
 * timeouts, whose requests go through the lanes first.
 */
export function createLaneServer(
  fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void,
  options: {
    http?: ServerOptions;
    keepAliveTimeout?: number;
    requestTimeout?: number;
    connectionTimeout?: number;
  },
): Server {
  const server: Server = http.createServer(options.http ?? {}, (req, res) => {
    const lanes = registry.get(server);
    if (lanes && !lanes.closed) {
      for (const lane of lanes.list) {
        const start = performance.now();
        const taken = lane(req, res);
        if (taken === false) continue;
        const answered = (answer: LaneAnswer): void => {
          const seconds = (performance.now() - start) / 1000;
          for (const observe of lanes.observers) observe(req.method ?? 'GET', answer, seconds);
        };
        if (!(taken instanceof Promise)) return answered(taken);
        taken.then(
          (answer) =>
            answer === false ? (res.headersSent ? res.destroy() : fastifyHandler(req, res)) : answered(answer),
          () => (res.headersSent ? res.destroy() : fastifyHandler(req, res)),
        );
        return;
      }
    }
    fastifyHandler(req, res);
  });
  // What Fastify sets on a server it makes itself (lib/server.js); it leaves them to the factory's.
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
  if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
  return server;
}
