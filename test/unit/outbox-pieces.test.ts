import { describe, expect, it } from "vitest";
import { forbiddenAddressReason, parseIPv6 } from "../../src/outbox/ip-ranges.js";
import { backoffMs, defaultOutboxSettings } from "../../src/outbox/outbox-worker.js";
import { escapeHtml } from "../../src/outbox/email-message.js";
import { escapeSlack } from "../../src/outbox/slack-message.js";
import { ForbiddenTargetError, parseTargetUrl, resolveTarget } from "../../src/outbox/target-guard.js";
import { ledgixSignature, timestampedSignature, verifyTimestampedSignature } from "../../src/outbox/webhook-signature.js";

describe("forbiddenAddressReason (SSRF ranges)", () => {
  const forbidden = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1",
    "::", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3", "::ffff:a9fe:a9fe", "::127.0.0.1", "64:ff9b::a00:1",
    "2002:7f00:1::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1", "ff02::1", "2001:db8::1", "[::1]",
  ];
  it.each(forbidden)("refuses %s", (address) => {
    expect(forbiddenAddressReason(address)).not.toBeNull();
  });

  const allowed = ["8.8.8.8", "93.184.215.14", "172.32.0.1", "100.128.0.1", "169.255.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"];
  it.each(allowed)("allows the public address %s", (address) => {
    expect(forbiddenAddressReason(address)).toBeNull();
  });

  it("names the range and the mapped form", () => {
    expect(forbiddenAddressReason("169.254.169.254")).toMatch(/link-local.*metadata/);
    expect(forbiddenAddressReason("::ffff:127.0.0.1")).toBe("IPv4-mapped loopback");
  });

  it("parses IPv6 forms to the same bytes", () => {
    expect(parseIPv6("::ffff:127.0.0.1")).toEqual(parseIPv6("0:0:0:0:0:ffff:7f00:0001"));
    expect(parseIPv6("1:2:3:4:5:6:7:8")?.[15]).toBe(8);
    expect(parseIPv6("1::2::3")).toBeNull();
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeNull();
  });
});

describe("target URLs", () => {
  it("accepts http(s) only, without credentials", () => {
    expect(parseTargetUrl("https://hooks.example.com/x").hostname).toBe("hooks.example.com");
    for (const bad of ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com", "http://user:pw@example.com/", "not a url"]) {
      expect(() => parseTargetUrl(bad), bad).toThrow(ForbiddenTargetError);
    }
  });

  it("sees through other spellings of loopback (the URL parser normalises them)", async () => {
    for (const url of ["http://2130706433/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/", "http://127.1/"]) {
      await expect(resolveTarget(url, { allowPrivate: false }), url).rejects.toThrow(/loopback/);
    }
  });

  it("with the development flag, still refuses other schemes", async () => {
    expect((await resolveTarget("http://127.0.0.1:9/", { allowPrivate: true })).address).toBe("127.0.0.1");
    await expect(resolveTarget("file:///etc/passwd", { allowPrivate: true })).rejects.toThrow(ForbiddenTargetError);
  });
});

describe("webhook signatures", () => {
  const secret = "whsec_test";
  const body = '{"id":"dlv_1","type":"ping"}';
  it("X-Ledgix-Signature is sha256=<lowercase hex HMAC of the raw body>", () => {
    // Value computed independently: printf '%s' "$body" | openssl dgst -sha256 -hmac whsec_test
    expect(ledgixSignature(secret, body)).toBe("sha256=dca92af92fab334987016a3f11d1ea7954b258019098e0ffe22f831f99af21e0");
    expect(ledgixSignature(secret, body)).not.toBe(ledgixSignature(secret, body + " "));
  });

  it("the timestamped signature verifies within 5 minutes only", () => {
    const header = timestampedSignature(secret, 1_700_000_000, body);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifyTimestampedSignature(header, secret, body, 1_700_000_000 + 300)).toBe(true);
    expect(verifyTimestampedSignature(header, secret, body, 1_700_000_000 + 301)).toBe(false);
    expect(verifyTimestampedSignature(header, "other", body, 1_700_000_000)).toBe(false);
    expect(verifyTimestampedSignature(header, secret, `${body} `, 1_700_000_000)).toBe(false);
    expect(verifyTimestampedSignature(header.replace("t=1700000000", "t=1700000001"), secret, body, 1_700_000_000)).toBe(false);
  });
});

describe("backoff", () => {
  it("doubles per attempt within equal jitter, up to the cap", () => {
    const s = defaultOutboxSettings;
    expect(backoffMs(1, s, () => 0)).toBe(5_000);
    expect(backoffMs(1, s, () => 1)).toBe(10_000);
    expect(backoffMs(3, s, () => 1)).toBe(40_000);
    expect(backoffMs(40, s, () => 1)).toBe(s.backoffMaxMs);
  });
});

describe("escaping", () => {
  it("Slack control characters and HTML", () => {
    expect(escapeSlack("<!channel> & <https://evil|click>")).toBe("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;");
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
  });
});
