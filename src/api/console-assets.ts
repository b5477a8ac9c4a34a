/**
 * The console (src/console/: one HTML page, one ES module, one stylesheet) served by the service
 * itself at /console: read once at start, answered from memory with their content types and a
 * Content-Security-Policy that allows nothing from elsewhere (no CDN, fonts or scripts from another
 * origin; no inline script or style), so the page works with no outside network.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import { writeText } from './json-response.js';
import { tagRoute } from './request-log.js';

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const FILES: Record<string, { file: string; type: string }> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};

/** src/console/ (next to this file's folder; from a build in dist/, the source tree's). */
export function consoleDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../console'), path.resolve(here, '../../../src/console')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`console files not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Registers GET (and HEAD) /console, /console/console.js and /console/console.css on the Express app. */
export function serveConsole(app: Express, dir = consoleDir()): void {
  const bodies = new Map(Object.entries(FILES).map(([url, f]) => [url, { ...f, text: readFileSync(path.join(dir, f.file), 'utf8') }]));
  for (const [url, f] of bodies) {
    app.get(url, (req, res) => {
      tagRoute(res, url === '/console/' ? '/console' : url);
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('Cache-Control', 'no-cache');
      writeText(req, res, 200, f.type, f.text);
    });
  }
}
