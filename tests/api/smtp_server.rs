//! SmtpServer: a test-only SMTP server on 127.0.0.1 that keeps the mails the server under
//! test sends over real SMTP, and can be stopped and restarted to play a mail outage.

#![allow(
    dead_code,
    reason = "a toolkit for the mail tests: a helper no test calls yet is not dead"
)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// lettre refuses to send non-ASCII mail to a server that does not offer 8BITMIME and
/// SMTPUTF8. Neither STARTTLS nor AUTH is offered: the tests speak plain `smtp://`.
const EHLO_REPLY: &str = "250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8";

/// The server, listening on a port of its own until stopped. Dropping it stops it too.
pub struct SmtpServer {
    port: u16,
    inbox: Arc<Inbox>,
    /// Mails received but not yet taken by `next_mail`, oldest first.
    unread: tokio::sync::Mutex<mpsc::UnboundedReceiver<Mail>>,
    /// `None` while stopped. An async mutex, so that `stop` and `restart` can hold it while
    /// they wait for the old loop to end, and a concurrent call waits its turn.
    accept_loop: tokio::sync::Mutex<Option<AcceptLoop>>,
}

impl SmtpServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub async fn start() -> SmtpServer {
        let listener = listen(0);
        let port = listener
            .local_addr()
            .expect("read the SMTP server's address")
            .port();
        let (arrivals, unread) = mpsc::unbounded_channel();
        let inbox = Arc::new(Inbox {
            received: Mutex::new(Vec::new()),
            arrivals,
        });
        let accept_loop = AcceptLoop::spawn(listener, Arc::clone(&inbox));
        SmtpServer {
            port,
            inbox,
            unread: tokio::sync::Mutex::new(unread),
            accept_loop: tokio::sync::Mutex::new(Some(accept_loop)),
        }
    }

    /// The URL to configure as the mail server: plain SMTP, no TLS.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes the port and every open connection, so that clients, pooled connections
    /// included, see the server gone. Does nothing if it is stopped already.
    pub async fn stop(&self) {
        if let Some(accept_loop) = self.accept_loop.lock().await.take() {
            accept_loop.stop().await;
        }
    }

    /// Listens on the same port again, stopping first if still running.
    pub async fn restart(&self) {
        let mut accept_loop = self.accept_loop.lock().await;
        if let Some(running) = accept_loop.take() {
            running.stop().await;
        }
        let listener = listen(self.port);
        *accept_loop = Some(AcceptLoop::spawn(listener, Arc::clone(&self.inbox)));
    }

    /// The oldest mail not yet taken, waiting up to `timeout` for one to arrive.
    pub async fn next_mail(&self, timeout: Duration) -> Option<Mail> {
        let next = async { self.unread.lock().await.recv().await };
        // The channel never closes: this server holds a sender, in its inbox.
        tokio::time::timeout(timeout, next).await.ok().flatten()
    }

    /// Every mail received so far, taken by `next_mail` or not, oldest first.
    pub fn received(&self) -> Vec<Mail> {
        self.inbox
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Binds 127.0.0.1:`port` (0 for any free port).
fn listen(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("create the SMTP server's socket");
    // The connections closed by `stop` linger in TIME_WAIT on this port, and would make
    // `restart` fail to bind it for a minute.
    socket
        .set_reuseaddr(true)
        .expect("set SO_REUSEADDR on the SMTP server's socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .unwrap_or_else(|err| panic!("bind the SMTP server to port {port}: {err}"));
    socket
        .listen(128)
        .expect("listen on the SMTP server's socket")
}

/// Where connections deliver mails; shared by them and the SmtpServer.
struct Inbox {
    received: Mutex<Vec<Mail>>,
    arrivals: mpsc::UnboundedSender<Mail>,
}

impl Inbox {
    fn deliver(&self, mail: Mail) {
        // Both under one lock, so `received` and `next_mail` see mails in the same order
        // when two connections deliver at once.
        let mut received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        received.push(mail.clone());
        // Fails only once the SmtpServer, which holds the receiver, is gone: nobody is left
        // to read the mail.
        let _ = self.arrivals.send(mail);
    }
}

/// A running accept loop, which owns the listener and every connection it accepted.
struct AcceptLoop {
    /// Sending on it, or dropping it, ends the loop: dropping is how dropping the
    /// SmtpServer stops the server.
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl AcceptLoop {
    fn spawn(listener: TcpListener, inbox: Arc<Inbox>) -> AcceptLoop {
        let (shutdown, shutdown_requested) = oneshot::channel();
        let task = tokio::spawn(accept_connections(listener, inbox, shutdown_requested));
        AcceptLoop { shutdown, task }
    }

    /// Returns once the listener and all the connections are closed.
    async fn stop(self) {
        // The loop ends only when told to, so it is still there to hear this.
        let _ = self.shutdown.send(());
        self.task
            .await
            .expect("the SMTP server's accept loop panicked");
    }
}

async fn accept_connections(
    listener: TcpListener,
    inbox: Arc<Inbox>,
    mut shutdown_requested: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown_requested => break,
            accepted = listener.accept() => {
                // A failed accept (a client that reset before it was accepted) only loses
                // that client.
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, Arc::clone(&inbox)));
                }
            }
            // Reaps finished connections, so the set does not grow with every client.
            Some(_) = connections.join_next() => {}
        }
    }
    drop(listener);
    // Closing the listener alone would leave pooled connections open and answering: a
    // stopped server must look gone to the clients already connected too.
    connections.shutdown().await;
}

/// The transaction being built by MAIL and RCPT.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

impl Envelope {
    fn mail_from(&mut self, args: &str) -> &'static str {
        if self.from.is_some() {
            return "503 Sender already given";
        }
        match parse_path(args, "FROM:") {
            Some(address) => {
                self.from = Some(address);
                "250 OK"
            }
            None => "501 Syntax: MAIL FROM:<address>",
        }
    }

    fn rcpt_to(&mut self, args: &str) -> &'static str {
        if self.from.is_none() {
            return "503 MAIL first";
        }
        match parse_path(args, "TO:") {
            Some(address) => {
                self.to.push(address);
                "250 OK"
            }
            None => "501 Syntax: RCPT TO:<address>",
        }
    }
}

/// The address in `FROM:<a@example.com> BODY=8BITMIME` (with `keyword` "FROM:"), without
/// its angle brackets; the parameters after it are accepted and ignored.
fn parse_path(args: &str, keyword: &str) -> Option<String> {
    let (given, path) = args.split_at_checked(keyword.len())?;
    if !given.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = path.trim_start();
    match path.strip_prefix('<') {
        Some(bracketed) => bracketed
            .split_once('>')
            .map(|(address, _)| address.to_owned()),
        // Some clients leave out the brackets.
        None => path.split_whitespace().next().map(str::to_owned),
    }
}

/// Serves one client until it quits or goes away; an I/O error just ends the connection.
async fn serve_connection(mut stream: TcpStream, inbox: Arc<Inbox>) -> io::Result<()> {
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::new(reader);
    writer
        .write_all(b"220 localhost test SMTP server\r\n")
        .await?;

    let mut envelope = Envelope::default();
    while let Some(line) = read_line(&mut reader).await? {
        let command = String::from_utf8_lossy(&line);
        let (verb, args) = command.split_once(' ').unwrap_or((&command, ""));
        let args = args.trim();
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                envelope = Envelope::default();
                EHLO_REPLY
            }
            "HELO" => {
                envelope = Envelope::default();
                "250 localhost"
            }
            "MAIL" => envelope.mail_from(args),
            "RCPT" => envelope.rcpt_to(args),
            "DATA" if envelope.to.is_empty() => "503 RCPT first",
            "DATA" => {
                writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let Some(data) = read_data(&mut reader).await? else {
                    // The client went away in the middle of the message: nothing to keep.
                    return Ok(());
                };
                let envelope = std::mem::take(&mut envelope);
                inbox.deliver(Mail {
                    from: envelope.from.unwrap_or_default(),
                    to: envelope.to,
                    raw: String::from_utf8_lossy(&data).into_owned(),
                });
                "250 OK: queued"
            }
            "RSET" => {
                envelope = Envelope::default();
                "250 OK"
            }
            "NOOP" => "250 OK",
            "QUIT" => {
                writer.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 Command not implemented",
        };
        writer.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
    Ok(())
}

/// One line without its line ending (CRLF, or a bare LF from a lax client); `None` at the
/// end of the stream.
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    if line.ends_with(b"\n") {
        line.pop();
    }
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(Some(line))
}

/// The message after DATA, up to the line holding only "."; `None` if the stream ends first.
/// The CRLF before that "." is the one the client adds to end its last line (lettre always
/// sends `\r\n.\r\n`), so it is left out: the result is the message as the client formatted it.
async fn read_data(reader: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    while let Some(mut line) = read_line(reader).await? {
        if line == b"." {
            return Ok(Some(lines.join(b"\r\n".as_slice())));
        }
        // The client doubled a leading dot so that no line of the message reads as the end.
        if line.first() == Some(&b'.') {
            line.remove(0);
        }
        lines.push(line);
    }
    Ok(None)
}

/// One mail as the server received it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The envelope sender (MAIL FROM) without angle brackets; empty for the null sender.
    pub from: String,
    /// The envelope recipients (RCPT TO) in the order given: Cc and Bcc included.
    pub to: Vec<String>,
    /// The message, headers and body, after dot-unstuffing and without the CRLF that ends
    /// DATA: the bytes the client formatted (lettre's `Message::formatted()`).
    pub raw: String,
}

impl Mail {
    /// The first header called `name` (in any case), unfolded, with its RFC 2047
    /// encoded-words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let lines = lines_of(&self.raw);
        let (headers, _) = split_entity(&lines);
        header_value(&headers, name).map(decode_encoded_words)
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The decoded text of the first text/plain part that is not an attachment, with its
    /// line breaks as `\n`. The text is the part's body as MIME has it, so a message made
    /// with lettre's `.singlepart()` keeps the line break lettre puts after the part (one
    /// made with `.body()`, or a part of a multipart, has none).
    pub fn text_body(&self) -> Option<String> {
        find_part(&lines_of(&self.raw), "text/plain")
    }

    /// The decoded text of the first text/html part that is not an attachment, with its
    /// line breaks as `\n`.
    pub fn html_body(&self) -> Option<String> {
        find_part(&lines_of(&self.raw), "text/html")
    }
}

type Headers = Vec<(String, String)>;

fn lines_of(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect()
}

/// Splits a message or body part into its headers, unfolded, and its body lines.
fn split_entity<'a, 'b>(lines: &'b [&'a str]) -> (Headers, &'b [&'a str]) {
    let end_of_headers = lines
        .iter()
        .position(|line| line.is_empty())
        .unwrap_or(lines.len());
    let mut headers = Headers::new();
    for line in &lines[..end_of_headers] {
        if line.starts_with([' ', '\t']) {
            // A folded line goes on with the header before it; unfolding only takes out
            // the line break.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    let body = lines.get(end_of_headers + 1..).unwrap_or_default();
    (headers, body)
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// A header's value without its parameters, in lower case: `text/html` for
/// `Text/HTML; charset=utf-8`, `attachment` for `attachment; filename="a.pdf"`.
fn main_value(header: &str) -> String {
    let value = header.split_once(';').map_or(header, |(value, _)| value);
    value.trim().to_ascii_lowercase()
}

/// A parameter of a header such as Content-Type, without its quotes.
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|parameter| {
        let (key, value) = parameter.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The decoded body of the first part of `wanted` media type in the entity made of
/// `lines`, looking into multiparts (alternative inside mixed, and so on) depth first.
fn find_part(lines: &[&str], wanted: &str) -> Option<String> {
    let (headers, body) = split_entity(lines);
    // A part without Content-Type is plain text (RFC 2045).
    let content_type = header_value(&headers, "Content-Type").unwrap_or("text/plain");
    let media_type = main_value(content_type);
    if media_type.starts_with("multipart/") {
        let boundary = parameter(content_type, "boundary")?;
        return multipart_parts(body, &boundary)
            .iter()
            .find_map(|part| find_part(part, wanted));
    }
    let is_attachment = header_value(&headers, "Content-Disposition")
        .is_some_and(|disposition| main_value(disposition) == "attachment");
    if media_type != wanted || is_attachment {
        return None;
    }
    let encoding = header_value(&headers, "Content-Transfer-Encoding").unwrap_or("7bit");
    let decoded = decode_transfer_encoding(body, &encoding.to_ascii_lowercase());
    // Every charset is read as UTF-8: lettre writes no other.
    Some(String::from_utf8_lossy(&decoded).replace("\r\n", "\n"))
}

/// The lines of each part of a multipart body: those between `--boundary` delimiters,
/// without the preamble before the first nor the epilogue after `--boundary--`.
fn multipart_parts<'a>(body: &[&'a str], boundary: &str) -> Vec<Vec<&'a str>> {
    let delimiter = format!("--{boundary}");
    let close_delimiter = format!("--{boundary}--");
    let mut parts = Vec::new();
    // `None` in the preamble.
    let mut part: Option<Vec<&str>> = None;
    for &line in body {
        // A delimiter line may carry trailing whitespace (RFC 2046).
        let trimmed = line.trim_end();
        if trimmed == delimiter || trimmed == close_delimiter {
            parts.extend(part.take());
            if trimmed == close_delimiter {
                break;
            }
            part = Some(Vec::new());
        } else if let Some(part) = &mut part {
            part.push(line);
        }
    }
    // A body cut short of its close delimiter still has its last part.
    parts.extend(part);
    parts
}

fn decode_transfer_encoding(body: &[&str], encoding: &str) -> Vec<u8> {
    match encoding {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let text: String = body.concat().split_whitespace().collect();
            BASE64
                .decode(text)
                .unwrap_or_else(|err| panic!("a base64 part of the mail does not decode: {err}"))
        }
        // 7bit, 8bit and binary are the data itself.
        _ => body.join("\r\n").into_bytes(),
    }
}

fn decode_quoted_printable(lines: &[&str]) -> Vec<u8> {
    let mut decoded = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        // Whitespace at the end of a line may have been added in transport: it is not
        // data (RFC 2045, 6.7).
        let line = line.trim_end_matches([' ', '\t']);
        match line.strip_suffix('=') {
            // A soft line break: the encoder cut a long line here.
            Some(continued) => decoded.extend(unescape_hex(continued.as_bytes(), false)),
            None => {
                decoded.extend(unescape_hex(line.as_bytes(), false));
                if index + 1 < lines.len() {
                    decoded.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    decoded
}

/// Undoes the `=XX` escapes of quoted-printable text; in a header's Q encoding, `_` also
/// stands for a space. An `=` not followed by two hex digits is kept as it is.
fn unescape_hex(text: &[u8], underscore_is_space: bool) -> Vec<u8> {
    let mut unescaped = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        let escaped = match text.get(index + 1..index + 3) {
            Some(&[high, low]) if byte == b'=' => hex_pair(high, low),
            _ => None,
        };
        if let Some(escaped) = escaped {
            unescaped.push(escaped);
            index += 3;
        } else {
            unescaped.push(if underscore_is_space && byte == b'_' {
                b' '
            } else {
                byte
            });
            index += 1;
        }
    }
    unescaped
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let high = char::from(high).to_digit(16)?;
    let low = char::from(low).to_digit(16)?;
    u8::try_from(high * 16 + low).ok()
}

/// Decodes the RFC 2047 encoded-words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header
/// value, leaving the rest of it as it is.
fn decode_encoded_words(value: &str) -> String {
    let mut decoded = String::new();
    // The bytes of a run of adjacent encoded-words, decoded together in case an encoder
    // split a character's bytes over two words.
    let mut pending: Vec<u8> = Vec::new();
    let mut whitespace = "";
    for run in whitespace_runs(value) {
        if run.starts_with(char::is_whitespace) {
            whitespace = run;
            continue;
        }
        match decode_encoded_word(run) {
            Some(bytes) => {
                // Whitespace between two encoded-words is not part of the text (RFC 2047,
                // 6.2): it is where a long header was folded.
                if pending.is_empty() {
                    decoded.push_str(whitespace);
                }
                pending.extend(bytes);
            }
            None => {
                decoded.push_str(&String::from_utf8_lossy(&pending));
                pending.clear();
                decoded.push_str(whitespace);
                decoded.push_str(run);
            }
        }
        whitespace = "";
    }
    decoded.push_str(&String::from_utf8_lossy(&pending));
    decoded.push_str(whitespace);
    decoded
}

/// `value` cut into runs of whitespace and runs of everything else, in turn.
fn whitespace_runs(value: &str) -> Vec<&str> {
    let mut runs = Vec::new();
    let mut rest = value;
    while let Some(first) = rest.chars().next() {
        let is_whitespace = first.is_whitespace();
        let end = rest
            .find(|c: char| c.is_whitespace() != is_whitespace)
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(end);
        runs.push(run);
        rest = after;
    }
    runs
}

/// The bytes an encoded-word `=?charset?encoding?text?=` stands for; `None` if `word` is
/// not one. The charset is not looked at: lettre writes only UTF-8.
fn decode_encoded_word(word: &str) -> Option<Vec<u8>> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut fields = inner.split('?');
    let (_charset, encoding, text) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    match encoding {
        "B" | "b" => BASE64.decode(text).ok(),
        "Q" | "q" => Some(unescape_hex(text.as_bytes(), true)),
        _ => None,
    }
}
