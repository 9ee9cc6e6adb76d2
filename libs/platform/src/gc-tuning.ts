import { setFlagsFromString } from 'node:v8'

/**
 * V8 decides per allocation site, from what survives early scavenges, whether to allocate that
 * site's objects straight into the old generation ("pretenuring"). A service's start (modules,
 * migrations, the first burst of connections) looks like everything survives, so some sites get
 * tenured; the per-request objects they then point at are kept alive by old objects that are
 * already dead, until a full mark-compact. Measured on auth's /verify under 50 connections: in about
 * one start in four the process stays in that state for good — every scavenge copies ~3 MB of
 * request garbage (2–5 ms instead of 0.3 ms), a mark-compact runs every ~0.6 s, and throughput
 * drops by a quarter with p99 doubling. Without pretenuring, request garbage dies young in every
 * start measured. Set before the app is built; the flag is read when the GC digests its feedback.
 */
export function disableAllocationSitePretenuring(): void {
  setFlagsFromString('--no-allocation-site-pretenuring')
}
