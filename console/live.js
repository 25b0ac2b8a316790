// The live review stream: GET /reviews/stream (SSE, cookie-authenticated, same origin). EventSource
// retries by itself after a dropped connection; when it gives up (CLOSED, e.g. after a 401 or a
// non-SSE answer) we reconnect with capped backoff. Every (re)connect asks listeners to refetch, so
// changes made while disconnected are not missed.

const MAX_BACKOFF_MS = 30_000;

export class LiveReviews {
  constructor({ onReview, onState, onReconnect }) {
    this.onReview = onReview;
    this.onState = onState;
    this.onReconnect = onReconnect;
    this.source = null;
    this.timer = null;
    this.backoffMs = 1000;
  }

  start() {
    this.stop();
    this.onState("connecting");
    const source = new EventSource("/reviews/stream");
    this.source = source;
    source.addEventListener("open", () => {
      this.backoffMs = 1000;
      this.onState("live");
      // Refetch on every open: whatever changed before this subscription started is in the snapshot.
      this.onReconnect();
    });
    source.addEventListener("review", (event) => {
      let review;
      try {
        review = JSON.parse(event.data);
      } catch {
        return;
      }
      if (review && typeof review.request_id === "string") this.onReview(review);
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        this.onState("offline");
        this.source = null;
        source.close();
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.start(), this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      } else {
        this.onState("reconnecting");
      }
    });
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.source) this.source.close();
    this.source = null;
  }
}
