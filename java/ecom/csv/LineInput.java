package ecom.csv;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Lines of a byte stream as Python's `readlines()` with `newline=""` splits them: each line ends
 * after "\r\n", "\n" or a lone "\r", and keeps its line break. Tracks the offset of every byte,
 * so a reader of part of a file knows where each line starts.
 */
final class LineInput {
  private final InputStream in;
  private final byte[] buffer = new byte[1 << 18];
  private int next;
  private int limit;
  private long position; // offset of buffer[next] in the stream

  LineInput(InputStream in, long position) {
    this.in = in;
    this.position = position;
  }

  long position() {
    return position;
  }

  /** The next byte without taking it, or -1 at the end. */
  int peek() throws IOException {
    if (next == limit && !fill()) {
      return -1;
    }
    return buffer[next] & 0xff;
  }

  /** Takes the next byte, or -1 at the end. */
  int read() throws IOException {
    int c = peek();
    if (c >= 0) {
      next++;
      position++;
    }
    return c;
  }

  /** Appends the next line to `into`; false at the end of the stream (nothing appended). */
  boolean readLine(Bytes into) throws IOException {
    boolean any = false;
    while (true) {
      if (next == limit && !fill()) {
        return any;
      }
      any = true;
      int start = next;
      while (next < limit) {
        byte c = buffer[next++];
        if (c == '\n') {
          take(into, start);
          return true;
        }
        if (c == '\r') {
          take(into, start);
          if (peek() == '\n') {
            into.add((byte) read());
          }
          return true;
        }
      }
      take(into, start);
    }
  }

  /** Skips empty lines: a run of line breaks holds no record, whatever breaks they are. */
  void skipLineBreaks() throws IOException {
    while (true) {
      while (next < limit) {
        byte c = buffer[next];
        if (c != '\n' && c != '\r') {
          return;
        }
        next++;
        position++;
      }
      if (!fill()) {
        return;
      }
    }
  }

  /** Skips past the next line break (or to the end). */
  void skipLine() throws IOException {
    readLine(new Bytes(256));
  }

  /** Takes `prefix` when the stream goes on with it; otherwise takes nothing. */
  boolean skip(byte[] prefix) throws IOException {
    if (limit - next < prefix.length) {
      System.arraycopy(buffer, next, buffer, 0, limit - next);
      limit -= next;
      next = 0;
      while (limit < prefix.length) {
        int n = in.read(buffer, limit, buffer.length - limit);
        if (n < 0) {
          break;
        }
        limit += n;
      }
    }
    if (limit - next < prefix.length || !Arrays.equals(buffer, next, next + prefix.length, prefix, 0, prefix.length)) {
      return false;
    }
    next += prefix.length;
    position += prefix.length;
    return true;
  }

  private void take(Bytes into, int from) {
    into.add(buffer, from, next - from);
    position += next - from;
  }

  private boolean fill() throws IOException {
    int n = in.read(buffer, 0, buffer.length);
    while (n == 0) {
      n = in.read(buffer, 0, buffer.length);
    }
    if (n < 0) {
      next = limit = 0;
      return false;
    }
    next = 0;
    limit = n;
    return true;
  }
}
