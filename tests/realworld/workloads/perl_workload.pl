#!/usr/bin/perl
# A perl workload for tests/realworld/perl.sh and bench/run.py: hashes of arrays built and
# half deleted, string building and splitting, regular expressions, sorting, nested data
# (records of hashes and arrays) and closures; it prints a checksum of what it computed, so
# that a run under tally must print exactly what it prints without.
# Usage: perl perl_workload.pl [SCALE]   (SCALE 1: about 0.6 s with glibc)
use strict;
use warnings;

my $scale = @ARGV ? $ARGV[0] : 1;
my $keys = int(100_000 * $scale) || 1000;
my $checksum = 0;
sub mix { $checksum = ($checksum * 31 + $_[0]) % 4294967291; }

# A hash of arrays, half of it deleted again.
my %table;
for my $i (1 .. $keys) {
  my $key = sprintf("key-%07d-%x", $i, ($i * 2654435761) % 65521);
  $table{$key} = [map { $i * 7 + $_ } 0 .. ($i % 9)];
}
for my $i (grep { $_ % 2 } 1 .. $keys) {
  delete $table{sprintf("key-%07d-%x", $i, ($i * 2654435761) % 65521)};
}
mix(scalar keys %table);
mix($_->[-1]) for @table{(sort keys %table)[0 .. 999]};

# Strings: built by appends, split, joined, matched.
my @lines;
for my $i (1 .. $keys / 4) {
  my $line = join(",", map { "f$_=" . ($i ^ $_) } 1 .. 6);
  $line .= ";" . reverse($line) if $i % 3 == 0;
  push @lines, $line;
}
my ($matches, $fields) = (0, 0);
for my $line (@lines) {
  $matches++ while $line =~ /f(\d)=(\d+)/g;
  $fields += scalar split /[,;]/, $line;
}
mix($matches);
mix($fields);

# Records of nested hashes and arrays, sorted by two keys, then dropped.
my @records = map {
  { id => $_, name => "n" . ($_ * 7919 % 1000), tags => [map { "t$_" } 1 .. ($_ % 5)],
    meta => { even => $_ % 2 == 0, square => $_ * $_ } }
} 1 .. $keys / 2;
my @sorted = sort { $a->{name} cmp $b->{name} || $b->{id} <=> $a->{id} } @records;
mix($sorted[$_]{id}) for 0 .. 99;
mix(scalar grep { $_->{meta}{even} && @{$_->{tags}} > 2 } @records);
@records = ();

# Closures that capture and build lists.
my @counters = map { my $n = $_; sub { $n += $_[0]; [$n, $n * 2] } } 1 .. 1000;
for my $round (1 .. 50) { mix($_->($round)->[1]) for @counters; }

print "perl_workload: keys=$keys checksum=$checksum\n";
