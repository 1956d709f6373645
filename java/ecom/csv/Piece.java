package ecom.csv;

import java.io.Serializable;

/** A byte range [start, end) of one file to read, with what the driver knows of the file. */
final class Piece implements Serializable {
  private static final long serialVersionUID = 1L;
  final String uri;
  final long start;
  final long end;
  final long size;
  final boolean gzip;

  Piece(String uri, long start, long end, long size, boolean gzip) {
    this.uri = uri;
    this.start = start;
    this.end = end;
    this.size = size;
    this.gzip = gzip;
  }

  /**
   * "partition TAB start TAB end TAB size TAB g|p TAB uri", one option per piece (the URI last, so
   * that it may hold any character).
   */
  static Piece parse(String text) {
    String[] f = text.split("\t", 6);
    boolean gzip = f[4].equals("g");
    long end = gzip ? Long.MAX_VALUE : Long.parseLong(f[2]);
    return new Piece(f[5], Long.parseLong(f[1]), end, Long.parseLong(f[3]), gzip);
  }

  static int partitionOf(String text) {
    return Integer.parseInt(text.substring(0, text.indexOf('\t')));
  }

  /** Whether the piece is its whole file: only such a piece may read a record across lines. */
  boolean isWholeFile() {
    return gzip || (start == 0 && end >= size);
  }
}
