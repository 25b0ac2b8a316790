import nodemailer from "nodemailer";
import type { EmailContent } from "./email-message.js";

/** SMTP settings (SMTP_* variables); absent when SMTP_HOST is not set. */
export interface SmtpConfig {
  host: string;
  port: number;
  /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when offered. */
  secure: boolean;
  user?: string;
  password?: string;
  from: string;
}

const TIMEOUT_MS = 10_000;

/**
 * Sends review emails over SMTP with nodemailer, one connection per message (notifications are few).
 * The SMTP server is the operator's, from configuration, so it is not subject to the webhook target
 * guard. The Message-ID is derived from the delivery id, so a retried message can be recognised as
 * the same message by mail clients and archives.
 */
export class Mailer {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;

  constructor(private readonly config: SmtpConfig) {
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      auth: config.user ? { user: config.user, pass: config.password ?? "" } : undefined,
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
    });
  }

  /** Resolves with the recipients the server refused (the message went to the others). */
  async send(deliveryId: string, recipients: string[], content: EmailContent): Promise<{ rejected: string[] }> {
    const info = await this.transport.sendMail({
      from: this.config.from,
      to: recipients,
      subject: content.subject,
      text: content.text,
      html: content.html,
      messageId: `<${deliveryId}@countersign>`,
      headers: { "X-Countersign-Delivery": deliveryId },
    });
    const rejected = (info.rejected ?? []) as (string | { address: string })[];
    return { rejected: rejected.map((r) => (typeof r === "string" ? r : r.address)) };
  }

  close(): void {
    this.transport.close();
  }
}
