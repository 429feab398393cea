"""Digest/Basic computation against the published RFC vectors, and challenge parsing."""

from camaudit.protocols import digest

RFC7616 = dict(username="Mufasa", password="Circle of Life", realm="http-auth@example.org",
               nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", method="GET",
               uri="/dir/index.html", qop="auth", nc="00000001",
               cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")


def test_rfc7616_md5_vector():
    assert digest.digest_response(algorithm="MD5", **RFC7616) == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_sha256_vector():
    assert digest.digest_response(algorithm="SHA-256", **RFC7616) == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")


def test_rfc2617_vector_through_header_builder():
    ch = digest.parse_challenges(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    assert len(ch) == 1 and ch[0].supported
    header = digest.digest(ch[0], "Mufasa", "Circle Of Life", "GET", "/dir/index.html",
                           cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "qop=auth," in header and "nc=00000001" in header


def test_rfc2069_without_qop():
    ch = digest.parse_challenges('Digest realm="r", nonce="n"')[0]
    header = digest.digest(ch, "u", "p", "DESCRIBE", "rtsp://127.0.0.1/x")
    assert "qop" not in header and "cnonce" not in header
    expected = digest.digest_response(algorithm="MD5", username="u", password="p", realm="r",
                                      nonce="n", method="DESCRIBE", uri="rtsp://127.0.0.1/x",
                                      qop=None, nc="", cnonce="")
    assert f'response="{expected}"' in header


def test_several_challenges_prefers_sha256_then_basic():
    values = ['Digest realm="a", nonce="1", qop="auth", algorithm=MD5',
              'Digest realm="a", nonce="2", qop="auth", algorithm=SHA-256',
              'Basic realm="a"']
    chosen = digest.pick(digest.parse_challenges(values))
    assert chosen.algorithm == "SHA-256" and chosen.params["nonce"] == "2"
    one_header = 'Basic realm="IP Camera(C6258)", Digest realm="IP Camera(C6258)", nonce="x"'
    parsed = digest.parse_challenges(one_header)
    assert [c.scheme for c in parsed] == ["basic", "digest"]
    assert digest.pick(parsed).scheme == "digest"
    assert digest.pick(digest.parse_challenges('Basic realm="x"')).scheme == "basic"


def test_unsupported_challenges_are_not_picked():
    assert digest.pick(digest.parse_challenges('Digest realm="a", nonce="1", qop="auth-int"')) \
        is None
    assert digest.pick(digest.parse_challenges('Digest realm="a", algorithm=SHA-512-256, '
                                               'nonce="1"')) is None
    assert digest.pick(digest.parse_challenges('Bearer realm="x"')) is None
    assert digest.pick(digest.parse_challenges("garbage\x00\xff")) is None


def test_basic_is_utf8():
    assert digest.basic("admin", "12345") == "Basic YWRtaW46MTIzNDU="
    assert digest.basic("ü", "x") == "Basic w7w6eA=="
