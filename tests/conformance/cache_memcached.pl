#!/usr/bin/perl
# Cache::Memcached (Debian's libcache-memcached-perl) against the server named by $ARGV[0].
use strict;
use warnings;
use Cache::Memcached;

my $m = Cache::Memcached->new({ servers => [ $ARGV[0] ], connect_timeout => 5, select_timeout => 5 });
my $fails = 0;
sub check { my ($ok, $what) = @_; unless ($ok) { print "FAIL: $what\n"; $fails++; } }

check($m->set("pk", "pv"), "set");
check(($m->get("pk") // "") eq "pv", "get");
check(!$m->add("pk", "other"), "add of an existing key fails");
check($m->replace("pk", "pw"), "replace");
check($m->set("ref", { a => 1, b => [2, 3] }), "set of a reference (serialised, flags)");
my $ref = $m->get("ref");
check(ref($ref) eq "HASH" && $ref->{b}[1] == 3, "get of a reference");
check($m->set("cnt", 5), "set counter");
check(($m->incr("cnt", 3) // -1) == 8, "incr");
check(($m->decr("cnt", 10) // -1) == 0, "decr floors at 0");
my %keys = map { ("m$_" => "v$_") } 1 .. 100;
$m->set($_, $keys{$_}) for keys %keys;
my $got = $m->get_multi(keys %keys);
check(scalar(keys %$got) == 100 && $got->{m42} eq "v42", "get_multi");
check($m->delete("pk"), "delete");
check(!defined $m->get("pk"), "deleted key misses");
my $big = "x" x 500_000;
check($m->set("big", $big), "set 500 KB");
check(($m->get("big") // "") eq $big, "get 500 KB");
print $fails ? "$fails failures\n" : "all Cache::Memcached checks passed\n";
exit($fails ? 1 : 0);
