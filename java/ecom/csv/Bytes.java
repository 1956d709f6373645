package ecom.csv;

import java.util.Arrays;

/** A growable byte array, reused record after record. */
final class Bytes {
  byte[] data;
  int length;

  Bytes(int capacity) {
    data = new byte[capacity];
  }

  void clear() {
    length = 0;
  }

  void add(byte b) {
    if (length == data.length) {
      data = Arrays.copyOf(data, data.length * 2);
    }
    data[length++] = b;
  }

  void add(byte[] from, int start, int n) {
    if (length + n > data.length) {
      data = Arrays.copyOf(data, Math.max(length + n, data.length * 2));
    }
    System.arraycopy(from, start, data, length, n);
    length += n;
  }
}
