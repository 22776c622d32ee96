/**
 * Leaving the page for a download link. One seam, so a test can see where the browser was sent (jsdom's
 * window.location cannot be stubbed).
 */
export const browser = {
  open(url: string): void {
    window.location.assign(url);
  },
};
