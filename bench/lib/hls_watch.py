#!/usr/bin/env python3
"""Watches live HLS playlists for bench/ingest.sh and times each new segment's playlist entry.

watch:   hls_watch.py watch LIST_FILE EVENTS_FILE CLOCKS_FILE [INTERVAL_S]
    LIST_FILE has one "playlist<TAB>progress_file" line per publisher: the live playlist a server
    writes for it and the `ffmpeg -progress` file of the `-re` publisher that feeds it (either may
    not exist yet). Every INTERVAL_S (default 0.05) until SIGTERM/SIGINT it checks each file's mtime
    and reads the ones that changed.

    Playlists: when a version lists a segment for the first time, one tab-separated line goes to
    EVENTS_FILE:
        playlist  segment  segment_mtime_ns  playlist_mtime_ns  seen_ns  first_version  media_end_us
    segment_mtime_ns is the segment file's last write; playlist_mtime_ns the write of the version
    read (both servers write a playlist under a temporary name and rename it, so a version is
    never half-read and its mtime is when it was written); seen_ns when this poller read it;
    media_end_us the sum of the #EXTINF durations up to and including the segment, i.e. where its
    media ends on the stream's clock (0 = first packet). first_version is 1 when the version lists
    exactly one segment not seen before, so it is the version that first listed it; 0 means a poll
    came late and missed a version, and the event is left out of the statistics below.

    Progress files: ffmpeg appends a block (out_time_us=..., progress=continue) every
    -stats_period. With -re, the packet at media time t leaves ffmpeg at T0 + t, where T0 is the
    publisher's real-time clock origin. Each complete last block seen gives the estimate
    T0 <= file_mtime - out_time (ffmpeg writes the block after muxing the packet at out_time, and
    may run late, never early); the smallest estimate is kept. At exit CLOCKS_FILE gets one
    "playlist<TAB>t0_ns" line per publisher with an estimate.

summary: hls_watch.py summary EVENTS_FILE CLOCKS_FILE
    Prints one line of key=value pairs, times in milliseconds:
      count, final   segments seen, not counting each playlist's last segment (final), which its
                     publisher's unpublish closes, not a keyframe; those are left out below;
      missed, timed  segments left out because a version was missed, and segments timed;
      lag_*          playlist_mtime - (T0 + media_end): from the moment the publisher sent (at its
                     real-time pace) the keyframe that closes the segment, to the playlist listing
                     it. Add one frame interval (33 ms at 30 fps) for "the segment's last packet";
                     that wait is the stream's, the same on every server;
      pl_*           playlist_mtime - segment_mtime: the segment file's last write to the playlist.
                     Depends on how a server buffers segment writes (see bench/RESULTS.md);
      seen_med       seen - segment_mtime: adds this poller's delay;
      neg            events whose playlist is older than the segment file (should be 0).
"""
import os
import signal
import sys
import time

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


def segments(text):
    """[(uri, media_end_us)] in playlist order."""
    out, total_us, pending_us = [], 0, 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            try:
                pending_us = int(round(float(line[8:].split(",")[0]) * 1e6))
            except ValueError:
                pending_us = 0
        elif line and not line.startswith("#"):
            total_us += pending_us
            pending_us = 0
            out.append((line, total_us))
    return out


def read_version(path):
    """(text, mtime_ns) of the file version one descriptor sees, or None. The mtime comes from
    the same descriptor: a rename between stat and open would pair one version with another's
    time."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        mtime = os.fstat(fd).st_mtime_ns
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace"), mtime


def last_block_out_time_us(path):
    """(out_time_us of the last complete progress block, mtime_ns), or None when the file ends in
    a partial block (then the mtime is not that block's)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        os.lseek(fd, max(0, st.st_size - 2048), os.SEEK_SET)
        tail = os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)
    if not tail.endswith("\n") or not tail.rstrip("\n").rsplit("\n", 1)[-1].startswith("progress="):
        return None
    block = tail.rstrip("\n").rsplit("progress=", 2)
    if len(block) < 2:
        return None
    for line in block[-2].splitlines():
        if line.startswith("out_time_us="):
            try:
                value = int(line[12:])
            except ValueError:
                return None
            return (value, st.st_mtime_ns) if value > 0 else None
    return None


def watch(list_file, events_file, clocks_file, interval):
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pairs = []
    with open(list_file) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 2:
                pairs.append((fields[0], fields[1]))
    last_mtime = {}
    seen = {playlist: set() for playlist, _ in pairs}
    t0 = {}
    out = open(events_file, "a", buffering=1)
    while not stop:
        started = time.monotonic()
        for playlist, progress in pairs:
            for path in (playlist, progress):
                try:
                    mtime = os.stat(path).st_mtime_ns
                except OSError:
                    continue
                if mtime == last_mtime.get(path):
                    continue
                if path == progress:
                    block = last_block_out_time_us(progress)
                    if block:
                        last_mtime[path] = block[1]
                        estimate = block[1] - block[0] * 1000
                        t0[playlist] = min(t0.get(playlist, estimate), estimate)
                    continue
                version = read_version(playlist)
                if not version:
                    continue
                seen_ns = time.time_ns()
                text, version_mtime = version
                last_mtime[path] = version_mtime
                new = [(u, end) for u, end in segments(text) if u not in seen[playlist]]
                directory = os.path.dirname(playlist)
                for uri, media_end_us in new:
                    seen[playlist].add(uri)
                    try:
                        seg_mtime = os.stat(os.path.join(directory, uri)).st_mtime_ns
                    except OSError:
                        continue  # deleted already (sliding window); nothing to time
                    out.write(f"{playlist}\t{uri}\t{seg_mtime}\t{version_mtime}\t{seen_ns}\t"
                              f"{1 if len(new) == 1 else 0}\t{media_end_us}\n")
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    out.close()
    with open(clocks_file, "w") as f:
        for playlist, value in t0.items():
            f.write(f"{playlist}\t{value}\n")


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))]


def summary(events_file, clocks_file):
    t0 = {}
    if os.path.exists(clocks_file):
        with open(clocks_file) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) == 2:
                    t0[fields[0]] = int(fields[1])
    events = []
    with open(events_file) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 7:
                events.append((fields[0], int(fields[2]), int(fields[3]), int(fields[4]),
                               fields[5] == "1", int(fields[6])))
    # A publisher's last segment is closed by its unpublish, not by a keyframe: left out.
    last_end = {}
    for playlist, _, _, _, _, media_end_us in events:
        last_end[playlist] = max(last_end.get(playlist, 0), media_end_us)
    pl, seen, lag, missed, negative, final = [], [], [], 0, 0, 0
    for playlist, seg_mtime, pl_mtime, seen_ns, first, media_end_us in events:
        if media_end_us == last_end[playlist]:
            final += 1
            continue
        seen.append((seen_ns - seg_mtime) / 1e6)
        if pl_mtime < seg_mtime:
            negative += 1
        if not first:
            missed += 1
            continue
        pl.append((pl_mtime - seg_mtime) / 1e6)
        if playlist in t0:
            lag.append((pl_mtime - t0[playlist] - media_end_us * 1000) / 1e6)

    def stats(name, values):
        return (f"{name}_med={percentile(values, 0.5):.1f} {name}_p95={percentile(values, 0.95):.1f} "
                f"{name}_max={percentile(values, 1.0):.1f}")

    print(f"count={len(seen)} final={final} missed={missed} timed={len(lag)} {stats('lag', lag)} {stats('pl', pl)} "
          f"seen_med={percentile(seen, 0.5):.1f} neg={negative}")


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "watch":
        watch(argv[2], argv[3], argv[4], float(argv[5]) if len(argv) == 6 else 0.05)
    elif len(argv) == 4 and argv[1] == "summary":
        summary(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
